"""System packages: stale package lists are refreshed, never trusted blindly.

apt itself cannot run in a test without changing the machine, so a stand-in
``apt-get``/``apt-cache`` pair on PATH plays a machine whose lists are those of
bookworm without bookworm-security (rustc-web 1.85) until ``apt-get update``.
The real ``dpkg --compare-versions`` orders the versions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_tools import setup
from ci_tools.errors import SetupError

STANDIN = """#!/bin/sh
# apt stand-in: logs every call; lists are "stale" until `apt-get update` ran.
echo "$(basename "$0") $*" >> "{log}"
case "$(basename "$0") $1" in
  "apt-get update") touch "{fresh}"; exit 0 ;;
  "apt-get install") exit 0 ;;
  "apt-cache policy")
    if [ -e "{fresh}" ]; then version="{new}"; else version="{old}"; fi
    printf '%s:\\n  Installed: (none)\\n  Candidate: %s\\n' "$2" "$version" ;;
esac
"""


def _apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, old: str, new: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    log.touch()
    script = STANDIN.format(log=log, fresh=tmp_path / "fresh", old=old, new=new)
    for name in ("apt-get", "apt-cache"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(setup.os, "geteuid", lambda: 0)
    return log


def test_debian_versions_are_ordered_by_dpkg() -> None:
    assert setup.version_older("1.85.0+dfsg3-1~deb12u3", "1.96")
    assert not setup.version_older("1.96.0+dfsg1-1~deb12u2", "1.96")
    assert not setup.version_older("1.100.0+dfsg1-1", "1.96")  # not string order


def test_stale_lists_are_refreshed_before_installing_rust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.85.0+dfsg3-1~deb12u3", new="1.96.0+dfsg1-1~deb12u2")
    setup.ensure_rust()
    calls = log.read_text().splitlines()
    update = calls.index("apt-get update")
    install = next(i for i, c in enumerate(calls) if c.startswith("apt-get install"))
    assert update < install
    assert calls[install].split()[-5:] == list(setup.RUST_PACKAGES)
    said = capsys.readouterr().err
    assert f"{', '.join(setup.RUST_PACKAGES)}: 1.85.0+dfsg3-1~deb12u3 is older than 1.96" in said


def test_fresh_lists_are_not_refreshed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.96.0+dfsg1-1~deb12u2", new="1.96.0+dfsg1-1~deb12u2")
    setup.ensure_rust()
    assert "apt-get update" not in log.read_text().splitlines()


def test_too_old_even_after_update_is_a_setup_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.85.0+dfsg3-1~deb12u3", new="1.85.0+dfsg3-1~deb12u3")
    with pytest.raises(SetupError) as caught:
        setup.ensure_rust()
    assert "even with fresh lists" in caught.value.message
    assert "rustc-web, cargo-web, rust-web-src" in caught.value.message
    assert "1.85.0+dfsg3-1~deb12u3 is older than 1.96" in caught.value.message
    assert caught.value.hint is not None and "bookworm-security" in caught.value.hint
    assert not any(c.startswith("apt-get install") for c in log.read_text().splitlines())


def test_a_package_without_candidate_refreshes_the_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="(none)", new="1:7.2+dfsg-7+deb12u7")
    setup.apt_install(["qemu-system-x86"])
    calls = log.read_text().splitlines()
    assert calls[:2] == ["apt-cache policy qemu-system-x86", "apt-get update"]
    assert calls[-1].startswith("apt-get install -y --no-install-recommends qemu-system-x86")


def test_not_root_gets_the_commands_to_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(setup.os, "geteuid", lambda: 1000)
    with pytest.raises(SetupError) as caught:
        setup.ensure_rust()
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("sudo apt-get update && sudo apt-get install")
