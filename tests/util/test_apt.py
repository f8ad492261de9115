"""System packages: stale package lists are refreshed, never trusted blindly.

apt itself cannot run in a test without changing the machine, so a stand-in
``apt-get``/``apt-cache`` pair on PATH plays a machine whose lists are those of
bookworm without bookworm-security (rustc-web 1.85) until ``apt-get update``.
The stand-in speaks German unless asked in the C locale, as apt does with
LANGUAGE=de.  The real ``dpkg --compare-versions`` orders the versions.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ci_tools.build import toolchain
from ci_tools.errors import SetupError
from ci_tools.util import apt, packages

STANDIN = """#!/bin/sh
# apt stand-in: logs every call; lists are "stale" until `apt-get update` ran.
echo "$(basename "$0") $*" >> "{log}"
case "$(basename "$0") $1" in
  "apt-get update") touch "{fresh}"; exit {update_status} ;;
  "apt-get install")
    if [ -e "{broken_until_update}" ] && [ ! -e "{fresh}" ]; then
      echo "E: Failed to fetch ...deb  404  Not Found" >&2; exit 100
    fi
    exit 0 ;;
  "apt-cache policy")
    if [ -e "{fresh}" ]; then version="{new}"; else version="{old}"; fi
    if [ "$LC_ALL" = C ]; then word=Candidate; else word=Installationskandidat; fi
    printf '%s:\\n  Installed: (none)\\n  %s: %s\\n' "$2" "$word" "$version" ;;
esac
"""


def _apt(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    old: str,
    new: str,
    update_status: int = 0,
    install_404_until_update: bool = False,
) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    log.touch()
    broken = tmp_path / "broken"
    if install_404_until_update:
        broken.touch()
    script = STANDIN.format(
        log=log, fresh=tmp_path / "fresh", old=old, new=new, update_status=update_status,
        broken_until_update=broken,
    )  # fmt: skip
    for name in ("apt-get", "apt-cache"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("LANGUAGE", "de")
    monkeypatch.setattr(apt.os, "geteuid", lambda: 0)
    return log


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_debian_versions_are_ordered_by_dpkg() -> None:
    assert apt.version_older("1.85.0+dfsg3-1~deb12u3", "1.96")
    assert not apt.version_older("1.96.0+dfsg1-1~deb12u2", "1.96")
    assert not apt.version_older("1.100.0+dfsg1-1", "1.96")  # not string order
    assert not apt.version_older("1:7.2+dfsg-7", "8.0")  # the epoch counts


def test_candidate_is_read_in_the_c_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _apt(tmp_path, monkeypatch, old="1:7.2+dfsg-7+deb12u7", new="1:7.2+dfsg-7+deb12u7")
    assert apt.candidate("qemu-system-x86") == "1:7.2+dfsg-7+deb12u7"


def test_stale_lists_are_refreshed_before_installing_rust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.85.0+dfsg3-1~deb12u3", new="1.96.0+dfsg1-1~deb12u2")
    toolchain.ensure_debian_rust()
    calls = _calls(log)
    update = calls.index("apt-get update")
    install = next(i for i, c in enumerate(calls) if c.startswith("apt-get install"))
    assert update < install
    assert calls[install].split()[-5:] == list(packages.RUST)
    said = capsys.readouterr().err
    assert f"{', '.join(packages.RUST)}: 1.85.0+dfsg3-1~deb12u3 is older than 1.96" in said


def test_fresh_lists_are_not_refreshed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.96.0+dfsg1-1~deb12u2", new="1.96.0+dfsg1-1~deb12u2")
    toolchain.ensure_debian_rust()
    assert "apt-get update" not in _calls(log)


def test_too_old_even_after_update_is_a_setup_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.85.0+dfsg3-1~deb12u3", new="1.85.0+dfsg3-1~deb12u3")
    with pytest.raises(SetupError) as caught:
        toolchain.ensure_debian_rust()
    assert "even with fresh lists" in caught.value.message
    assert "rustc-web, cargo-web, rust-web-src" in caught.value.message
    assert "1.85.0+dfsg3-1~deb12u3 is older than 1.96" in caught.value.message
    assert caught.value.hint is not None and "bookworm-security" in caught.value.hint
    assert not any(c.startswith("apt-get install") for c in _calls(log))


def test_a_package_without_candidate_refreshes_the_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="(none)", new="1:7.2+dfsg-7+deb12u7")
    apt.install(["qemu-system-x86"])
    calls = _calls(log)
    assert calls[:2] == ["apt-cache policy qemu-system-x86", "apt-get update"]
    assert calls[-1].startswith("apt-get install -y --no-install-recommends qemu-system-x86")


def test_a_failed_update_is_a_warning_when_the_lists_then_suffice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One broken third-party source fails `apt-get update`; Debian's lists refreshed."""
    log = _apt(tmp_path, monkeypatch, old="(none)", new="1:7.2+dfsg-7", update_status=100)
    apt.install(["qemu-system-x86"])
    assert _calls(log)[-1].startswith("apt-get install")
    assert "apt-get update exited 100" in capsys.readouterr().err


def test_an_install_that_fails_on_old_lists_is_retried_after_an_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lists old enough that the mirror no longer has the files they name (404)."""
    log = _apt(tmp_path, monkeypatch, old="1.0", new="1.0", install_404_until_update=True)
    apt.install(["make"])
    calls = _calls(log)
    assert [c.split()[0:2] for c in calls if c.startswith("apt-get")] == [
        ["apt-get", "install"], ["apt-get", "update"], ["apt-get", "install"],
    ]  # fmt: skip


def test_not_root_without_sudo_gets_the_commands_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _apt(tmp_path, monkeypatch, old="1.0", new="1.0")
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(apt.shutil, "which", lambda name: None if name == "sudo" else "/bin/x")
    with pytest.raises(SetupError) as caught:
        toolchain.ensure_debian_rust()
    assert caught.value.hint is not None
    assert caught.value.hint.startswith("sudo apt-get update && sudo apt-get install")


def test_not_root_with_passwordless_sudo_installs_through_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.0", new="1.0")
    sudo = tmp_path / "bin" / "sudo"
    sudo.write_text(f'#!/bin/sh\necho "sudo $*" >> "{log}"\n[ "$1" = -n ] && shift\nexec "$@"\n')
    sudo.chmod(0o755)
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    apt.install(["make"])
    calls = _calls(log)
    assert calls[0] == "sudo -n true"
    assert calls[-2].startswith("sudo apt-get install -y --no-install-recommends make")
