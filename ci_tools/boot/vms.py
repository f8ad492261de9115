"""The VMs ci_tools starts, and how a stale one of ours is told from anyone else's.

Each boot gets a private runtime folder ``ci_tools-<id>`` under
``runtime_dir()`` holding QEMU's pidfile, the pid of the harness that
started it (its owner), the QMP socket and QEMU's stderr; QEMU itself runs
with the VM name ``ci_tools-<id>``, visible in ``ps``.  The harness holds the
folder locked (``util.locks``) for the whole boot: a folder whose lock is
held is live, whatever its pids say.  A QEMU is ours and stale only when all
of that agrees, its folder is not locked and its owner is dead.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

from ci_tools.util import locks

VM_NAME_PREFIX = "ci_tools-"
OWNER_FILE = "owner.pid"
PIDFILE = "qemu.pid"


def runtime_dir() -> Path:
    """Where live QEMU pidfiles and sockets are kept (short path: socket limit)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    path = Path(base) / f"{VM_NAME_PREFIX}{os.getuid()}"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def cmdline(pid: int) -> list[str]:
    """The command line of process ``pid`` (empty when it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_vm(pid: int | None, runtime: Path) -> Path | None:
    """The runtime folder of process ``pid`` if it is a stale QEMU of ours, else None."""
    if pid is None:
        return None
    argv = cmdline(pid)
    if not argv or "qemu-system" not in os.path.basename(argv[0]) or "-name" not in argv:
        return None
    name = argv[argv.index("-name") + 1].split(",")[0]
    if not name.startswith(VM_NAME_PREFIX):
        return None
    folder = runtime / name
    recorded, owner = _read_pid(folder / PIDFILE), _read_pid(folder / OWNER_FILE)
    if recorded is None or owner is None or recorded != pid or _alive(owner):
        return None
    if locks.in_use(folder):
        return None  # a live harness holds it (its recorded owner pid was reused)
    return folder


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def running_qemu(folder: Path) -> int | None:
    """The pid of the live QEMU a runtime folder belongs to, if it still runs."""
    pid = _read_pid(folder / PIDFILE)
    if pid is None or not _alive(pid) or _is_zombie(pid):
        return None
    argv = cmdline(pid)
    if "-name" not in argv or argv[argv.index("-name") + 1].split(",")[0] != folder.name:
        return None  # the pid was reused by something else
    return pid


def new_folder(runtime: Path, name: str) -> locks.PrivateDir:
    """A boot's runtime folder, locked by this boot until it is released."""
    held = locks.private_dir(runtime, name)
    # Who started this QEMU: lets a later run tell a stale VM of ours from a live one.
    (held.path / OWNER_FILE).write_text(f"{os.getpid()}\n")
    return held


def sweep(runtime: Path) -> int:
    """Remove the folders of boots that are over (a SIGKILLed harness cannot clean
    up after itself): no live harness holds the folder locked and its QEMU is gone.
    A live boot's folder is never removed, whatever process or thread runs it."""
    removed = locks.sweep(
        runtime, f"{VM_NAME_PREFIX}*", also_alive=lambda f: running_qemu(f) is not None
    )
    return len(removed)


def stop(pid: int) -> None:
    """SIGTERM, then SIGKILL: the process is gone (or a zombie) when this returns."""
    for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid) or _is_zombie(pid):
                return
            time.sleep(0.05)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"
