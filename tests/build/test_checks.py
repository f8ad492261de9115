"""check, clippy and fmt around cargo: what they tell a person (cargo itself is faked)."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from ci_tools import config
from ci_tools.build import checks
from ci_tools.errors import BuildError
from ci_tools.util import proc

from conftest import REPO, debian_toolchain

DEMO = config.load(REPO / "ci_tools.toml")
CRATE = DEMO.kernel.crate_dir


def _rustfmt_finds(monkeypatch: pytest.MonkeyPatch, files: Sequence[str]) -> list[list[str]]:
    """cargo fmt --check reports ``files`` (relative to the crate) as unformatted."""
    ran: list[list[str]] = []
    stdout = "".join(f"Diff in {CRATE / f}:3:\n-a  = 1;\n+a = 1;\n" for f in files)

    def run(argv: Sequence[str], **_: object) -> subprocess.CompletedProcess[str]:
        ran.append(list(argv))
        return subprocess.CompletedProcess(argv, 1 if files else 0, stdout, "")

    monkeypatch.setattr(checks, "resolve", lambda *a: debian_toolchain())
    monkeypatch.setattr(checks, "require_component", lambda *a: None)
    monkeypatch.setattr(proc, "run", run)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_WORKSPACE", raising=False)
    return ran


def test_fmt_hint_is_the_command_that_formats_what_was_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Kevlar: `[fmt] args = ["--all"]`; the hint dropped --all, 71 of 280 files stayed."""
    ran = _rustfmt_finds(monkeypatch, ["src/main.rs"])
    everything = dataclasses.replace(DEMO, fmt=config.FmtConfig(args=("--all",)))
    with pytest.raises(BuildError) as caught:
        checks.fmt(everything)
    assert ran[0][1:3] == ["fmt", "--check"] and "--all" in ran[0]
    manifest = DEMO.kernel.manifest
    assert caught.value.hint == (
        "run `RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 "
        f"/usr/bin/cargo fmt --manifest-path {manifest} --all` and commit the result"
    )


def test_fmt_error_names_a_few_files_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = [f"src/m{i:03}.rs" for i in range(280)]
    _rustfmt_finds(monkeypatch, names)
    with pytest.raises(BuildError) as caught:
        checks.fmt(DEMO)
    prefix = Path("examples/kernel")
    assert caught.value.message.startswith(
        f"280 file(s) not formatted as rustfmt would: {prefix / names[0]}, "
    )
    assert caught.value.message.endswith(" and 270 more (listed above)")


def test_fmt_passes_when_rustfmt_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    _rustfmt_finds(monkeypatch, [])
    checks.fmt(DEMO)
