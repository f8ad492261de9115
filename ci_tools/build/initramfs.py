"""A reproducible initramfs, written in Python: newc cpio, no root, no tools.

Device nodes are just header fields in a cpio archive, so an unprivileged
process can write /dev/console and /dev/null that the kernel will create
as real nodes when it unpacks the archive.  Every entry is owned by root
with a fixed mtime and inode numbers assigned in order, so the same inputs
always give the same bytes (and the same sha256 in the result file).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ci_tools.errors import BadInputError

MAGIC = b"070701"  # newc: "new ASCII" format, no CRC
TRAILER = "TRAILER!!!"
FIXED_MTIME = 0


@dataclass(frozen=True, kw_only=True)
class Entry:
    path: str  # relative, without leading "/": "init", "dev/console"
    mode: int  # full st_mode: type bits and permissions
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)  # (major, minor) of a device node


def directory(path: str) -> Entry:
    return Entry(path=path, mode=stat.S_IFDIR | 0o755)


def regular(path: str, data: bytes, *, executable: bool = False) -> Entry:
    return Entry(path=path, mode=stat.S_IFREG | (0o755 if executable else 0o644), data=data)


def char_device(path: str, major: int, minor: int, *, perm: int = 0o600) -> Entry:
    return Entry(path=path, mode=stat.S_IFCHR | perm, rdev=(major, minor))


def symlink(path: str, target: str) -> Entry:
    return Entry(path=path, mode=stat.S_IFLNK | 0o777, data=target.encode())


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _header(entry: Entry, ino: int) -> bytes:
    name = entry.path.encode() + b"\0"
    fields = (
        ino,
        entry.mode,
        0,  # uid: root
        0,  # gid: root
        2 if stat.S_ISDIR(entry.mode) else 1,  # nlink
        FIXED_MTIME,
        len(entry.data),
        0,  # devmajor of the archive's file system
        0,  # devminor
        entry.rdev[0],
        entry.rdev[1],
        len(name),
        0,  # check: unused in newc
    )
    head = MAGIC + b"".join(b"%08X" % f for f in fields) + name
    return head + _pad(len(head))


def write_cpio(entries: Iterable[Entry]) -> bytes:
    """The archive: entries in the order given (parents must come first)."""
    out = bytearray()
    seen: set[str] = set()
    for ino, entry in enumerate(entries, start=1):
        if entry.path.startswith("/") or not entry.path or entry.path in seen:
            raise BadInputError(f"invalid or repeated initramfs path {entry.path!r}")
        seen.add(entry.path)
        out += _header(entry, ino) + entry.data + _pad(len(entry.data))
    out += _header(Entry(path=TRAILER, mode=0), 0)
    return bytes(out)


def read_cpio(archive: bytes) -> list[Entry]:
    """Parse a newc archive (used by the tests and to inspect an initramfs)."""
    entries: list[Entry] = []
    pos = 0
    while True:
        if archive[pos : pos + 6] != MAGIC:
            raise BadInputError(f"not a newc cpio archive at byte {pos}")
        fields = [int(archive[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = fields[1], fields[6], fields[9], fields[10], fields[11]
        name_start = pos + 110
        name = archive[name_start : name_start + namesize - 1].decode()
        data_start = name_start + namesize + (-(110 + namesize) % 4)
        data = archive[data_start : data_start + size]
        pos = data_start + size + (-size % 4)
        if name == TRAILER:
            return entries
        entries.append(Entry(path=name, mode=mode, data=data, rdev=(rmaj, rmin)))


def bench_initramfs(init: bytes, files: Mapping[str, bytes] | None = None) -> bytes:
    """An initramfs whose /init is ``init``, with what a console needs.

    /dev/console must exist before init runs: the kernel opens it for init's
    stdin/stdout/stderr.  /dev/null serves read_null and write_null should
    devtmpfs be unavailable.  ``files`` adds more regular files (path -> bytes).
    """
    entries = [
        directory("dev"),
        char_device("dev/console", 5, 1),
        char_device("dev/null", 1, 3, perm=0o666),
        directory("proc"),
        directory("sys"),
        directory("tmp"),
        regular("init", init, executable=True),
    ]
    for path, data in sorted((files or {}).items()):
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts)):
            parent = "/".join(parts[:depth])
            if all(e.path != parent for e in entries):
                entries.append(directory(parent))
        entries.append(regular("/".join(parts), data, executable=True))
    return write_cpio(entries)
