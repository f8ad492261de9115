"""Installing Debian packages with apt-get: as root, through sudo, or the commands to run.

Package lists are judged by what they offer, not by their presence: a
machine's lists can be months old (a cloud image, a container, a debootstrap
root holds only the lists it was made with), and from those apt installs old
versions, finds nothing, or asks the mirror for files it no longer has.  So
before installing, every package's candidate is looked up; when one is
missing or older than the caller needs, ``apt-get update`` runs first and
says why; and an install that fails is retried once after an update.  apt is
always asked in the C locale: its words ("Candidate:") are translated.

Two set-ups at once (two CI jobs, a developer's second session) or an
unattended upgrade hold apt's locks in turn, and apt-get fails at once on a
held lock (``apt-get update`` even with ``DPkg::Lock::Timeout``).  So:

- ci_tools processes take turns: one machine-wide lock (``APT_LOCK``) is held
  for a whole ``install`` or ``refresh_lists``; a second set-up says it waits
  for the first, then finds the lists fresh and the packages installed;
- anyone else (unattended-upgrades, a person): before each apt-get, the locks
  apt's configuration names are looked at (``F_GETLK``: who holds them,
  without taking them); a held one is reported with its holder and waited
  for, up to ``LOCK_WAIT_S``; ``DPkg::Lock::Timeout`` covers the instant
  between that look and apt's own lock, and an ``apt-get`` that still lost
  the race ("Could not get lock") waits and runs again.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ci_tools import output
from ci_tools.errors import CiToolsError, SetupError
from ci_tools.util import locks, packages, proc

_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
LOCK_WAIT_S = 900  # an unattended upgrade can hold apt's locks for minutes
_LOCK_POLL_S = 1.0
_LOCK_LOST = "Could not get lock"
_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid


def candidate(package: str) -> str | None:
    """The version ``apt-get install`` would take from the current lists, or None."""
    if shutil.which("apt-cache") is None:
        return None
    policy = proc.run(["apt-cache", "policy", package], env=_ENV, quiet=True, check=False)
    match = re.search(r"^\s*Candidate:\s*(\S+)", policy.stdout, re.MULTILINE)
    if match is None or match.group(1) == "(none)":
        return None
    return match.group(1)


def version_older(version: str, than: str) -> bool:
    """Debian version order (``dpkg --compare-versions``): 1.85.0+dfsg3-1~deb12u3 < 1.96."""
    result = proc.run(["dpkg", "--compare-versions", version, "lt", than], quiet=True, check=False)
    return result.returncode == 0


def stale(names: Sequence[str], minimum: Mapping[str, str] | None = None) -> list[str]:
    """Why the current package lists cannot give these packages (empty when they can),
    one reason per kind: 'rustc-web, cargo-web: 1.85.0+dfsg3-1~deb12u3 is older than 1.96'."""
    minimum = minimum or {}
    why: dict[str, list[str]] = {}
    for name in names:
        found = candidate(name)
        if found is None:
            why.setdefault("no candidate", []).append(name)
        elif name in minimum and version_older(found, minimum[name]):
            why.setdefault(f"{found} is older than {minimum[name]}", []).append(name)
    return [f"{', '.join(names)}: {reason}" for reason, names in why.items()]


def _as_root() -> list[str] | None:
    """The prefix that runs apt-get as root here ([] as root, ["sudo"] where sudo can
    be used: no password needed, or a terminal to ask for it), or None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        return None
    passwordless = proc.run(["sudo", "-n", "true"], quiet=True, check=False).returncode == 0
    return ["sudo"] if passwordless or sys.stdin.isatty() else None


def _apt_lock() -> Path:
    """One file for every ci_tools process of the machine, whatever its cache."""
    run_lock = Path("/run/lock")
    base = run_lock if os.access(run_lock, os.W_OK | os.X_OK) else Path(tempfile.gettempdir())
    return base / "ci_tools-apt.lock"


@contextmanager
def _one_setup_at_a_time() -> Iterator[None]:
    path = _apt_lock()

    def waiting() -> str:
        return (
            f"waiting for another ci_tools set-up (pid {locks.holder_pid(path)}) that is "
            "running apt-get"
        )

    with locks.exclusive(path, waiting=waiting):
        yield


def lock_files(verb: str) -> list[Path]:
    """The locks ``apt-get VERB`` takes, where apt's configuration (``APT_CONFIG`` too)
    puts them: the package lists' for ``update``, dpkg's (frontend and own) otherwise."""
    if shutil.which("apt-config") is None:
        return []
    names = ("LISTS", "Dir::State::Lists/d", "STATUS", "Dir::State::status/f")
    shell = proc.run(["apt-config", "shell", *names], env=_ENV, quiet=True, check=False).stdout
    found = dict(re.findall(r"^(\w+)='([^']*)'", shell, re.MULTILINE))
    if verb == "update":
        return [Path(found["LISTS"]) / "lock"] if found.get("LISTS") else []
    if not found.get("STATUS"):
        return []
    dpkg = Path(found["STATUS"]).parent
    return [dpkg / "lock-frontend", dpkg / "lock"]


def lock_holder(path: Path) -> int | None:
    """The pid holding apt's (fcntl) lock on ``path``, asked without taking it; None
    when nobody holds it or the file cannot be read (then apt's own wait applies)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def _command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _wait_for_locks(verb: str, deadline: float) -> None:
    """Return once no process holds the locks ``apt-get VERB`` takes; say who holds them
    meanwhile."""
    said: set[tuple[Path, int]] = set()
    while True:
        held = [(p, pid) for p in lock_files(verb) if (pid := lock_holder(p)) is not None]
        if not held:
            return
        for path, pid in held:
            if (path, pid) not in said:
                said.add((path, pid))
                output.info(
                    f"waiting for apt's lock {path}, held by pid {pid} ({_command_name(pid)}): "
                    "another set-up or package manager is running"
                )
        if time.monotonic() > deadline:
            path, pid = held[0]
            raise SetupError(
                f"apt's lock {path} is still held by pid {pid} ({_command_name(pid)}) "
                f"after {LOCK_WAIT_S // 60} minutes",
                hint="let that package manager finish (or stop it if it hangs), then run again",
            )
        time.sleep(_LOCK_POLL_S)


def _apt_get(root: list[str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``apt-get`` once apt's locks are free, run again when it lost the race for one."""
    deadline = time.monotonic() + LOCK_WAIT_S
    verb, *rest = args
    while True:
        _wait_for_locks(verb, deadline)
        argv = [*root, "apt-get", verb, "-o", f"DPkg::Lock::Timeout={LOCK_WAIT_S}", *rest]
        result = proc.run(argv, env=_ENV, check=False)
        lost = result.returncode != 0 and _LOCK_LOST in result.stdout
        if lost and time.monotonic() < deadline:
            output.info("apt-get found apt's lock taken meanwhile; waiting to run it again")
            time.sleep(_LOCK_POLL_S)
            continue
        if check and result.returncode != 0:
            raise proc.CommandFailed(argv, result.returncode, proc.tail(result.stdout))
        return result


def _update(root: list[str], why: str) -> None:
    output.phase(f"refreshing apt's package lists ({why}): apt-get update")
    result = _apt_get(root, "update", check=False)
    if result.returncode != 0:
        # One broken third-party source fails the whole update; the lists that did
        # refresh may still hold what is needed, which the caller checks again.
        output.warn(f"apt-get update exited {result.returncode}; going on with what it fetched")


def refresh_lists(why: str) -> None:
    """``apt-get update`` where it can run (root, or sudo); silently nothing elsewhere."""
    root = _as_root()
    if root is not None and shutil.which("apt-get") is not None:
        with _one_setup_at_a_time():
            _update(root, why)


def install(names: Sequence[str], *, minimum: Mapping[str, str] | None = None) -> None:
    """``apt-get install`` these packages (at least the ``minimum`` versions), refreshing
    stale package lists first.  Where it cannot run: a SetupError with the commands."""
    if not names:
        return
    minimum = minimum or {}
    command = packages.install_command(names)
    root = _as_root() if shutil.which("apt-get") is not None else None
    if root is None:
        raise SetupError(
            f"system packages to install (or upgrade): {', '.join(names)}",
            hint=f"sudo apt-get update && sudo {' '.join(command)}   (then run this again)",
        )
    if root:
        output.info(f"not root: running apt-get through sudo ({' '.join(command)})")
    with _one_setup_at_a_time():
        _install(root, names, minimum)


def _install(root: list[str], names: Sequence[str], minimum: Mapping[str, str]) -> None:
    command = packages.install_command(names)
    updated = False
    reasons = stale(names, minimum)
    if reasons:
        _update(root, "; ".join(reasons))
        updated = True
        still = stale(names, minimum)
        if still:
            raise SetupError(
                f"apt cannot install what ci_tools needs even with fresh lists: {'; '.join(still)}",
                hint="enable the distribution's security and updates suites in apt's sources "
                "(Debian 12: bookworm-security), or see the README for alternatives",
            )
    output.phase(f"installing {', '.join(names)} with apt-get")
    assert command[0] == "apt-get"
    try:
        _apt_get(root, *command[1:])
    except CiToolsError:
        if updated:
            raise
        # Old lists can name files the mirror no longer has: refresh once, retry once.
        _update(root, "apt-get install failed")
        _apt_get(root, *command[1:])
