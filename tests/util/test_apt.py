"""System packages: stale package lists are refreshed, never trusted blindly.

apt itself cannot run in a test without changing the machine, so a stand-in
``apt-get``/``apt-cache`` pair on PATH plays a machine whose lists are those of
bookworm without bookworm-security (rustc-web 1.85) until ``apt-get update``.
The stand-in speaks German unless asked in the C locale, as apt does with
LANGUAGE=de.  The real ``dpkg --compare-versions`` orders the versions.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
    monkeypatch.setenv("APT_CONFIG", str(apt_sandbox(tmp_path)))
    monkeypatch.setenv("LANGUAGE", "de")
    monkeypatch.setattr(apt.os, "geteuid", lambda: 0)
    return log


def apt_sandbox(tmp_path: Path) -> Path:
    """An apt configuration whose lists, cache and dpkg state are folders under
    ``tmp_path`` with no sources: the real apt-config and apt-get work on it, and its
    locks are the test's, never the machine's."""
    root = tmp_path / "apt-root"
    for folder in ("lists/partial", "cache/archives/partial", "dpkg", "sources.list.d"):
        (root / folder).mkdir(parents=True)
    (root / "dpkg" / "status").touch()
    (root / "sources.list").touch()
    conf = root / "apt.conf"
    conf.write_text(
        f'Dir::State::Lists "{root}/lists";\nDir::State::status "{root}/dpkg/status";\n'
        f'Dir::Cache "{root}/cache";\nDir::Etc::sourcelist "{root}/sources.list";\n'
        f'Dir::Etc::sourceparts "{root}/sources.list.d";\n'
    )
    return conf


def _calls(log: Path) -> list[str]:
    """The calls logged, without the lock-wait option every apt-get gets."""
    return [c.replace(f" -o DPkg::Lock::Timeout={apt.LOCK_WAIT_S}", "") for c in _raw(log)]


def _raw(log: Path) -> list[str]:
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


# --------------------------------------------------------------------------
# apt's locks: a second set-up waits for the first, and says so

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
fcntl.lockf(fd, fcntl.LOCK_EX)  # as apt locks: fcntl, not flock
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
with open(sys.argv[3], "a") as log:
    log.write("holder released\\n")
"""

# apt-get as apt behaves with its frontend lock: held by another, it fails at once
# ("Could not get lock"), or with -o DPkg::Lock::Timeout=N waits up to N seconds.
LOCKING_APT_GET = """#!{python}
import fcntl, os, re, sys, time
args = sys.argv[1:]
lock = "{frontend}"
timeout = 0.0
for i, arg in enumerate(args):
    if arg == "-o" and args[i + 1].startswith("DPkg::Lock::Timeout="):
        timeout = float(args[i + 1].split("=", 1)[1])
fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o640)
deadline = time.monotonic() + timeout
while True:
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        break
    except OSError:
        if time.monotonic() >= deadline:
            print(f"E: Could not get lock {{lock}}. It is held by process 1 (apt-get)")
            sys.exit(100)
        time.sleep(0.1)
with open("{log}", "a") as log:
    log.write(f"start {{os.getpid()}} {{' '.join(args)}}\\n")
time.sleep(1.5)  # unpacking
with open("{log}", "a") as log:
    log.write(f"end {{os.getpid()}}\\n")
"""


def _hold(lock: Path, seconds: float, log: Path) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock), str(seconds), str(log)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
    return holder


def test_lock_files_are_where_apts_configuration_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APT_CONFIG", str(apt_sandbox(tmp_path)))
    root = tmp_path / "apt-root"
    assert apt.lock_files("update") == [root / "lists" / "lock"]
    assert apt.lock_files("install") == [root / "dpkg" / "lock-frontend", root / "dpkg" / "lock"]


def test_lock_holder_is_named_without_taking_the_lock(tmp_path: Path) -> None:
    lock, log = tmp_path / "lock", tmp_path / "log"
    assert apt.lock_holder(lock) is None  # no such file
    lock.touch()
    assert apt.lock_holder(lock) is None
    holder = _hold(lock, 0.5, log)
    try:
        assert apt.lock_holder(lock) == holder.pid
    finally:
        holder.communicate()
    assert apt.lock_holder(lock) is None


@pytest.mark.skipif(os.geteuid() != 0, reason="apt-get update locks its lists only as root")
def test_a_real_apt_get_update_waits_for_a_held_lists_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real apt-get, on a sandbox: held, its lists lock makes `apt-get update` fail at
    once even with DPkg::Lock::Timeout; ci_tools waits for it, naming the holder."""
    monkeypatch.setenv("APT_CONFIG", str(apt_sandbox(tmp_path)))
    lock = tmp_path / "apt-root" / "lists" / "lock"
    holder = _hold(lock, 1.5, tmp_path / "log")
    try:
        apt.refresh_lists("a test")
    finally:
        holder.communicate()
    said = capsys.readouterr().err
    assert f"waiting for apt's lock {lock}, held by pid {holder.pid} (python" in said
    assert "apt-get update exited" not in said  # it ran once the lock was free, and worked


def test_install_waits_for_the_frontend_lock_another_process_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _apt(tmp_path, monkeypatch, old="1.0", new="1.0")
    lock = tmp_path / "apt-root" / "dpkg" / "lock-frontend"
    holder = _hold(lock, 1.0, log)
    try:
        apt.install(["make"])
    finally:
        holder.communicate()
    calls = _raw(log)
    install = next(i for i, c in enumerate(calls) if c.startswith("apt-get install"))
    assert calls.index("holder released") < install
    assert f"-o DPkg::Lock::Timeout={apt.LOCK_WAIT_S}" in calls[install]
    assert f"held by pid {holder.pid}" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() != 0, reason="apt.install runs apt-get itself only as root")
def test_two_setups_at_once_install_one_after_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes install at once with an apt-get that locks as apt does: the second
    waits for the first (and says so) instead of failing on apt's lock."""
    _apt(tmp_path, monkeypatch, old="1.0", new="1.0")
    log = tmp_path / "installs.log"
    lock = tmp_path / "apt-root" / "dpkg" / "lock-frontend"
    apt_get = tmp_path / "bin" / "apt-get"
    apt_get.write_text(LOCKING_APT_GET.format(python=sys.executable, frontend=lock, log=log))
    code = "from ci_tools.util import apt; apt.install(['make'])"
    setups = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [setup.communicate(timeout=60)[1] for setup in setups]
    assert [s.returncode for s in setups] == [0, 0], errors
    events = [line.split()[0] for line in log.read_text().splitlines()]
    assert events == ["start", "end", "start", "end"]  # never two at once, none failed
    assert any("waiting for another ci_tools set-up" in e for e in errors), errors
