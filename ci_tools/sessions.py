"""The nox sessions, generated here so a kernel project's noxfile stays two lines:

    from ci_tools import sessions
    sessions.register()

Each session body is a command line of ``python -m ci_tools``: all logic is
in the package, and a session that cannot do its job fails (nox's
``session.skip`` would turn a missing QEMU into a green CI run).
"""

from __future__ import annotations

import sys

import nox

PY = sys.executable


def _ci_tools(session: nox.Session, *args: str) -> None:
    session.run(PY, "-m", "ci_tools", *args, external=True)


def register() -> None:
    """Declare every session with nox (call once, from noxfile.py)."""

    @nox.session(name="setup", python=False, tags=["setup"])
    def setup(session: nox.Session) -> None:
        """Install QEMU and musl-gcc (as root, with apt-get) and fetch a guest Linux kernel."""
        _ci_tools(session, "setup")

    @nox.session(name="bench-linux", python=False, tags=["bench"])
    def bench_linux(session: nox.Session) -> None:
        """Benchmark a stock Linux guest under QEMU, the reference; args go to `bench linux`."""
        _ci_tools(session, "setup")
        _ci_tools(session, "bench", "linux", *session.posargs)

    @nox.session(name="bench-host", python=False, tags=["bench"])
    def bench_host(session: nox.Session) -> None:
        """Run the bench binary natively on this machine. Args go to `bench host`."""
        _ci_tools(session, "setup")
        _ci_tools(session, "bench", "host", *session.posargs)

    @nox.session(name="tests", python=False, tags=["tests"])
    def tests(session: nox.Session) -> None:
        """ci_tools' tests, unit and integration (real QEMU, cargo, HTTP); args go to pytest."""
        _ci_tools(session, "setup")
        session.run(PY, "-m", "pytest", *session.posargs, external=True)

    @nox.session(name="lint", python=False, tags=["tests"])
    def lint(session: nox.Session) -> None:
        """ruff and mypy --strict on ci_tools."""
        session.run(PY, "-m", "ruff", "check", "ci_tools", "tests", "noxfile.py", external=True)
        session.run(PY, "-m", "ruff", "format", "--check", "ci_tools", external=True)
        session.run(PY, "-m", "mypy", external=True)
