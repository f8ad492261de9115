"""Forwarded host ports: find who holds one, and clear only our own stale QEMU.

Kevlar's runner "fixed" busy ports by killing every process whose ``ss`` line
mentioned qemu, including other jobs' VMs.  Here a holder is removed only if
it is provably a stale QEMU that ci_tools itself started: its command line
carries a VM name ``ci_tools-<id>``, our runtime folder holds a pidfile for
that name with that pid, and the harness recorded as its owner is dead.
Anything else is named in the error, with what to do, and left alone.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ci_tools import output
from ci_tools.errors import BadInputError, SetupError
from ci_tools.util import proc

OWNER_FILE = "owner.pid"
PIDFILE = "qemu.pid"


@dataclass(frozen=True, kw_only=True)
class Forward:
    """``host`` on 127.0.0.1 forwarded to ``guest`` in the VM; host 0: let the OS pick."""

    host: int
    guest: int
    protocol: str = "tcp"

    @classmethod
    def parse(cls, text: str) -> Forward:
        match = re.fullmatch(r"(?:(tcp|udp):)?(\d+):(\d+)", text)
        if match is None:
            raise BadInputError(f"bad port forward {text!r}", hint="use HOST:GUEST, e.g. 20022:22")
        return cls(host=int(match[2]), guest=int(match[3]), protocol=match[1] or "tcp")

    def hostfwd(self) -> str:
        return f"hostfwd={self.protocol}:127.0.0.1:{self.host}-:{self.guest}"


@dataclass(frozen=True, kw_only=True)
class Holder:
    pid: int | None
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.command})" if self.pid else self.command


def port_is_free(port: int, protocol: str = "tcp") -> bool:
    kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        # As QEMU's user networking does: a TIME_WAIT leftover is not a holder.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _socket_inodes(port: int, protocol: str) -> set[str]:
    """Inodes of sockets bound to ``port`` (any address), from /proc/net."""
    inodes = set()
    for table in (f"/proc/net/{protocol}", f"/proc/net/{protocol}6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def find_holder(port: int, protocol: str = "tcp") -> Holder | None:
    """The process holding ``port``: /proc first, then ``ss -tlnp`` where it exists."""
    inodes = _socket_inodes(port, protocol)
    if inodes:
        targets = {f"socket:[{inode}]" for inode in inodes}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fds = list((entry / "fd").iterdir())
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(fd) in targets:
                        pid = int(entry.name)
                        return Holder(pid=pid, command=" ".join(_cmdline(pid))[:200])
                except OSError:
                    continue
    if shutil.which("ss"):
        flag = "-tlnp" if protocol == "tcp" else "-ulnp"
        listing = proc.run(["ss", "-H", flag, f"sport = :{port}"], quiet=True, check=False).stdout
        match = re.search(r'users:\(\("([^"]+)",pid=(\d+)', listing)
        if match:
            return Holder(pid=int(match[2]), command=match[1])
        if listing.strip():
            return Holder(pid=None, command=f"another user's process (ss: {listing.strip()})")
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_ci_tools_qemu(holder: Holder, runtime: Path) -> Path | None:
    """The runtime folder of ``holder`` if it is a stale QEMU of ours, else None."""
    if holder.pid is None:
        return None
    argv = _cmdline(holder.pid)
    if not argv or "qemu-system" not in os.path.basename(argv[0]) or "-name" not in argv:
        return None
    name = argv[argv.index("-name") + 1].split(",")[0]
    if not name.startswith("ci_tools-"):
        return None
    folder = runtime / name
    recorded, owner = _read_pid(folder / PIDFILE), _read_pid(folder / OWNER_FILE)
    if recorded is None or owner is None or recorded != holder.pid or _alive(owner):
        return None
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
    argv = _cmdline(pid)
    if "-name" not in argv or argv[argv.index("-name") + 1].split(",")[0] != folder.name:
        return None  # the pid was reused by something else
    return pid


def sweep(runtime: Path) -> int:
    """Remove the folders of runs whose harness and QEMU are both gone (a
    SIGKILLed harness cannot clean up after itself); returns how many."""
    removed = 0
    for folder in runtime.glob("ci_tools-*"):
        owner = _read_pid(folder / OWNER_FILE)
        if (owner is not None and _alive(owner)) or running_qemu(folder) is not None:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _terminate(pid: int) -> None:
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


def claim(forwards: tuple[Forward, ...], runtime: Path) -> None:
    """Make sure every fixed host port is free before QEMU starts.

    Clears a stale QEMU of ours; refuses, naming the holder, for anything else.
    """
    for forward in forwards:
        if forward.host == 0 or port_is_free(forward.host, forward.protocol):
            continue
        holder = find_holder(forward.host, forward.protocol)
        if holder is not None:
            folder = stale_ci_tools_qemu(holder, runtime)
            if folder is not None and holder.pid is not None:
                output.warn(
                    f"port {forward.host} is held by a stale QEMU that ci_tools started "
                    f"({holder.describe()}); its harness is gone, stopping it"
                )
                _terminate(holder.pid)
                shutil.rmtree(folder, ignore_errors=True)
                if port_is_free(forward.host, forward.protocol):
                    continue
        who = holder.describe() if holder else "an unidentified process"
        raise SetupError(
            f"host port {forward.host} ({forward.protocol}, forwarded to guest port "
            f"{forward.guest}) is already in use by {who}",
            hint=f"stop that process if it is yours, or forward another port; "
            f"use 0:{forward.guest} to let the OS pick a free one",
        )


def read_forwarded(usernet: str) -> dict[int, int]:
    """guest port -> host port, from QEMU's ``info usernet`` (HMP over QMP)."""
    ports = {}
    for line in usernet.splitlines():
        fields = line.split()
        # Protocol[State]  FD  Source Address  Port  Dest. Address  Port RecvQ SendQ
        if len(fields) >= 6 and "HOST_FORWARD" in fields[0]:
            ports[int(fields[5])] = int(fields[3])
    return ports
