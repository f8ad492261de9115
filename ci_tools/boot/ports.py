"""Forwarded host ports: find who holds one, and clear only our own stale QEMU.

Kevlar's runner "fixed" busy ports by killing every process whose ``ss`` line
mentioned qemu, including other jobs' VMs.  Here a holder is removed only if
it is provably a stale QEMU that ci_tools itself started (``boot.vms``): its
command line carries a VM name ``ci_tools-<id>``, our runtime folder holds a
pidfile for that name with that pid, and the harness recorded as its owner
is dead.
Anything else is named in the error, with what to do, and left alone.

Two ci_tools boots asking for the same fixed host port (two jobs of one
runner, two boots of one harness) do not both find it free and race QEMU to
bind it: each holds a lock per fixed port for its whole boot, and the second
waits, saying so, until the first's QEMU is gone.  ``0:GUEST`` needs no lock:
QEMU binds a port the OS picks, read back over QMP.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ci_tools import output
from ci_tools.boot import vms
from ci_tools.errors import BadInputError, SetupError
from ci_tools.util import locks, proc


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
                        return Holder(pid=pid, command=" ".join(vms.cmdline(pid))[:200])
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


def claim(forwards: tuple[Forward, ...], runtime: Path) -> None:
    """Make sure every fixed host port is free before QEMU starts.

    Clears a stale QEMU of ours; refuses, naming the holder, for anything else.
    """
    for forward in forwards:
        if forward.host == 0 or port_is_free(forward.host, forward.protocol):
            continue
        holder = find_holder(forward.host, forward.protocol)
        if holder is not None:
            folder = vms.stale_vm(holder.pid, runtime)
            if folder is not None and holder.pid is not None:
                output.warn(
                    f"port {forward.host} is held by a stale QEMU that ci_tools started "
                    f"({holder.describe()}); its harness is gone, stopping it"
                )
                vms.stop(holder.pid)
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


def lock_path(forward: Forward, runtime: Path) -> Path:
    return runtime / "ports" / f"{forward.protocol}-{forward.host}.lock"


@contextmanager
def reserved(forwards: tuple[Forward, ...], runtime: Path) -> Iterator[None]:
    """Hold every fixed host port of ``forwards`` against other ci_tools boots for the
    ``with`` block (the boot), waiting for one that holds it; then ``claim`` them."""
    fixed = sorted({f for f in forwards if f.host}, key=lambda f: (f.protocol, f.host))
    with ExitStack() as stack:
        for forward in fixed:  # one order for everyone: two boots never wait on each other
            path = lock_path(forward, runtime)

            def waiting(forward: Forward = forward, path: Path = path) -> str:
                return (
                    f"host port {forward.host} ({forward.protocol}) is forwarded by another "
                    f"ci_tools boot (pid {locks.holder_pid(path)}); waiting until its QEMU "
                    "has exited"
                )

            stack.enter_context(locks.exclusive(path, waiting=waiting))
        claim(forwards, runtime)
        yield


def read_forwarded(usernet: str) -> dict[int, int]:
    """guest port -> host port, from QEMU's ``info usernet`` (HMP over QMP)."""
    ports = {}
    for line in usernet.splitlines():
        fields = line.split()
        # Protocol[State]  FD  Source Address  Port  Dest. Address  Port RecvQ SendQ
        if len(fields) >= 6 and "HOST_FORWARD" in fields[0]:
            ports[int(fields[5])] = int(fields[3])
    return ports
