"""A Linux bzImage's kernel, uncompressed, to boot through its PVH entry.

QEMU boots an ELF kernel that carries a PVH entry note (``XEN_ELFNOTE_PHYS32_ENTRY``;
Linux has one when built with ``CONFIG_PVH``, as Debian's is) directly in
32-bit protected mode: no real-mode set-up code and, above all, no
decompression, which under ``-icount`` is emulated instruction by
instruction.  The kernel code that runs once it starts is the same, so the
benchmarks measure the same thing (README, "What the gate costs").

The compressed payload of a bzImage is found through its boot header
(``payload_offset``); xz, gzip, bzip2 and lzma are unpacked with Python's
own modules.  Anything else (zstd, lz4, no PVH note) gives None: the caller
boots the bzImage as it is.
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import struct
import zlib
from pathlib import Path

from ci_tools.util.files import write_atomic
from ci_tools.util.paths import cache_dir

ELF_MAGIC = b"\x7fELF"
PT_NOTE = 4
XEN_ELFNOTE_PHYS32_ENTRY = 18
_MAGICS = (
    (b"\xfd7zXZ\x00", lambda: lzma.LZMADecompressor(lzma.FORMAT_XZ)),
    (b"\x1f\x8b\x08", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)),
    (b"BZh", bz2.BZ2Decompressor),
    (b"\x5d\x00\x00", lambda: lzma.LZMADecompressor(lzma.FORMAT_ALONE)),
)


def payload(bzimage: bytes) -> bytes | None:
    """The kernel inside a bzImage, decompressed; None when it cannot be had."""
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        return None
    setup_sects = bzimage[0x1F1] or 4
    offset, length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + offset
    data = bzimage[start : start + length]
    for magic, decompressor in _MAGICS:
        if data.startswith(magic):
            try:
                return bytes(decompressor().decompress(data))
            except (lzma.LZMAError, zlib.error, OSError, EOFError):
                return None
    return None


def has_pvh_entry(elf: bytes) -> bool:
    """Whether a 64-bit little-endian ELF carries the PVH entry note."""
    if len(elf) < 64 or elf[:4] != ELF_MAGIC or elf[4] != 2 or elf[5] != 1:
        return False
    phoff, phentsize, phnum = (
        struct.unpack_from("<Q", elf, 0x20)[0],
        *struct.unpack_from("<HH", elf, 0x36),
    )
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + i * phentsize
        )
        if p_type != PT_NOTE:
            continue
        at, end = p_offset, p_offset + p_filesz
        while at + 12 <= end:
            namesz, descsz, note_type = struct.unpack_from("<III", elf, at)
            name = elf[at + 12 : at + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and note_type == XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            at += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def pvh_kernel(bzimage: Path) -> Path | None:
    """The uncompressed kernel of ``bzimage`` with its PVH entry, cached by the image's
    hash; None when the image has none (the caller boots the bzImage)."""
    data = bzimage.read_bytes()
    folder = cache_dir("pvh")
    stem = hashlib.sha256(data).hexdigest()[:20]
    kernel, none = folder / f"{stem}.vmlinux", folder / f"{stem}.none"
    if kernel.is_file():
        return kernel
    if none.is_file():
        return None
    elf = payload(data)
    if elf is None or not has_pvh_entry(elf):
        write_atomic(none, b"")  # no need to look again
        return None
    write_atomic(kernel, elf)  # a unique temporary name: concurrent runs never collide
    return kernel
