"""Shared fixtures.  Unit tests carry a tripwire: starting QEMU or cargo from a
test not marked ``integration`` fails loudly instead of silently taking a minute."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
_EXPENSIVE = ("qemu-system", "cargo", "rustc", "musl-gcc")


def _guard(argv: object) -> None:
    text = " ".join(map(str, argv)) if isinstance(argv, (list, tuple)) else str(argv)
    first = text.split(" ", 1)[0]
    if any(name in os.path.basename(first) for name in _EXPENSIVE):
        raise AssertionError(
            f"unit test tried to run {first!r}: mark the test @pytest.mark.integration"
        )


@pytest.fixture(autouse=True)
def tripwire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("integration") is None:
        real_popen_init = subprocess.Popen.__init__
        real_spawn_init = pexpect.spawn.__init__

        def popen_init(
            self: subprocess.Popen[bytes], args: object, *a: object, **k: object
        ) -> None:
            _guard(args)
            real_popen_init(self, args, *a, **k)  # type: ignore[arg-type]

        def spawn_init(self: pexpect.spawn, command: str, *a: object, **k: object) -> None:
            _guard(command)
            real_spawn_init(self, command, *a, **k)

        monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)
        monkeypatch.setattr(pexpect.spawn, "__init__", spawn_init)
    yield


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ci_tools cache (the real one is shared with the user's runs)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CI_TOOLS_CACHE", str(cache))
    return cache


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GitHub Actions step: annotations counted afresh, an empty job summary file."""
    from ci_tools import output

    summary = tmp_path / "summary.md"
    summary.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setattr(output, "_annotation_counts", {"error": 0, "warning": 0, "notice": 0})
    return summary


def write_config(folder: Path, body: str) -> Path:
    """A ci_tools.toml for a one-line crate in ``folder``, with ``body`` after [kernel]."""
    (folder / "Cargo.toml").write_text('[package]\nname = "k"\nversion = "0.0.0"\n')
    path = folder / "ci_tools.toml"
    path.write_text('[kernel]\ncrate = "."\n' + body)
    return path
