"""The nox sessions, generated here so a kernel project's noxfile stays two lines:

    from ci_tools import sessions
    sessions.register()          # or register("path/to/ci_tools.toml")

Each session body is a command line of ``python -m ci_tools``: all logic is
in the package, and a session that cannot do its job fails (nox's
``session.skip`` would turn a missing QEMU into a green CI run).

A bare ``nox`` runs only the cheap sessions (``default_sessions``: every
``check-<profile>``, ``clippy`` and ``fmt``), never ``setup`` (apt-get) or a
benchmark, unless the noxfile chose its own default.  ci_tools' own ``tests``
and ``lint`` sessions are in its repository's noxfile, not here.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import nox

import ci_tools.config

PY = sys.executable
BENCH_ALL_DIR = "results/bench-all"


def _ci_tools(session: nox.Session, *args: str) -> None:
    session.run(PY, "-m", "ci_tools", *args, external=True)


def _matrix_session(
    name: str, description: str, tags: list[str], *commands: Sequence[str], posargs: bool = True
) -> None:
    """A session running ``python -m ci_tools`` commands, generated from the config.

    nox shows the function's docstring in ``nox -l``; a generated function
    gets its own."""

    def body(session: nox.Session) -> None:
        for command in commands:
            _ci_tools(session, *command, *(session.posargs if posargs else ()))

    body.__doc__ = description
    body.__name__ = body.__qualname__ = name.replace("-", "_")
    nox.session(name=name, python=False, tags=tags)(body)


def default_sessions(profiles: Sequence[str]) -> list[str]:
    """What a bare ``nox`` runs in a kernel repository: quick, and nothing needs root."""
    return [*(f"check-{p}" for p in profiles), "clippy", "fmt"]


def register(config: str | Path = "ci_tools.toml") -> None:
    """Declare every session with nox (call once, from noxfile.py).

    The profile matrix comes from ``config``: ``check-<profile>`` and
    ``bench-<profile>`` for each profile, ``clippy``, ``fmt`` and ``bench-all``.
    Without a default of the noxfile's own (``nox.options.sessions``,
    ``keywords`` or ``tags``), a bare ``nox`` runs the checks, clippy and fmt.
    """
    matrix = ci_tools.config.load(config)
    cfg = str(matrix.path)
    if nox.options.sessions is None and nox.options.keywords is None and not nox.options.tags:
        nox.options.sessions = default_sessions(matrix.profile_names)

    @nox.session(name="setup", python=False, tags=["setup"])
    def setup(session: nox.Session) -> None:
        """Install QEMU and musl-gcc (as root, with apt-get) and fetch a guest Linux kernel."""
        _ci_tools(session, "setup")

    @nox.session(name="bench-linux", python=False, tags=["bench"])
    def bench_linux(session: nox.Session) -> None:
        """Benchmark a stock Linux guest under QEMU, the reference; args go to `bench linux`."""
        _ci_tools(session, "setup")
        _ci_tools(session, "bench", "linux", "--config", cfg, *session.posargs)

    @nox.session(name="bench-host", python=False, tags=["bench"])
    def bench_host(session: nox.Session) -> None:
        """Run the bench binary natively on this machine. Args go to `bench host`."""
        _ci_tools(session, "setup")
        _ci_tools(session, "bench", "host", *session.posargs)

    # The profile matrix: the same commands, with the same flags, as the CI jobs.
    for p in matrix.profiles:
        spec = f"{p.target} --features {p.feature}" if p.features else p.target
        _matrix_session(
            f"check-{p.name}", f"cargo check, profile {p.name} ({spec}).", ["check", "cargo"],
            ("check", "--config", cfg, p.name), posargs=False,
        )  # fmt: skip
    linted = ", ".join(matrix.clippy.profiles)
    strict = "; warnings fail it" if matrix.clippy.deny_warnings else ""
    _matrix_session(
        "clippy", f"cargo clippy with each profile's check flags ({linted}){strict}.",
        ["lint", "cargo"], ("clippy", "--config", cfg),
    )  # fmt: skip
    _matrix_session(
        "fmt", "cargo fmt --check on the kernel crate; diffs reported per file.",
        ["lint", "cargo"], ("fmt", "--config", cfg), posargs=False,
    )  # fmt: skip
    for p in matrix.profiles:
        what = "its own kernel" if p.bench and p.bench.guest == "kernel" else "the Linux guest"
        extra = f" with `{p.bench.cmdline_extra}`" if p.bench and p.bench.cmdline_extra else ""
        _matrix_session(
            f"bench-{p.name}", f"Benchmark {p.name}: {what}{extra}. Args go to `bench profile`.",
            ["bench"], ("bench", "profile", p.name, "--config", cfg),
        )  # fmt: skip
    linux = ["--cmdline", matrix.linux.cmdline]
    if matrix.linux.kernel is not None:
        linux += ["--kernel", str(matrix.linux.kernel)]
    files = [f"{BENCH_ALL_DIR}/{p.name}.json" for p in matrix.profiles]
    # The Linux reference is worth a boot when it runs the profiles' benchmarks: ci_tools'
    # bench.c, or the kernel's own bench given as [linux] binary.  Kernels whose bench is
    # built in, with no such binary, are only set against each other.
    reference = matrix.linux.binary is not None or any(
        p.bench is None or p.bench.suite == "ci_tools" for p in matrix.profiles
    )
    reference_file = f"{BENCH_ALL_DIR}/linux.json"
    runs: list[tuple[str, ...]] = [
        ("bench", "profile", p.name, "--config", cfg, "--output", f)
        for p, f in zip(matrix.profiles, files, strict=True)
    ]
    if reference:
        runs.insert(0, ("bench", "linux", "--config", cfg, *linux, "--output", reference_file))
    cost = ["cost", *(["--reference", reference_file] if reference else []), *files]

    @nox.session(name="bench-all", python=False, tags=["bench"])
    def bench_all(session: nox.Session) -> None:
        """Every profile (and the Linux reference when it runs their benchmarks), same args
        for all, then the cost table."""
        for run in runs:
            _ci_tools(session, *run, *session.posargs)
        _ci_tools(session, *cost, "--markdown", f"{BENCH_ALL_DIR}/cost.md")

    @nox.session(name="compare", python=False, tags=["bench"])
    def compare(session: nox.Session) -> None:
        """Compare result files, the baseline first; args go to `compare` (exit 1: regression)."""
        _ci_tools(session, "compare", "--config", cfg, *session.posargs)

    @nox.session(name="history", python=False, tags=["bench"])
    def history(session: nox.Session) -> None:
        """Main's performance history: change points per profile and benchmark; args go to
        `history` (result files or folders, --remote origin, --html report.html)."""
        _ci_tools(session, "history", *session.posargs)
