"""The Python newc writer: read back, byte-for-byte reproducible, real device nodes."""

from __future__ import annotations

import shutil
import stat
import subprocess

import pytest

from ci_tools.build.initramfs import bench_initramfs, read_cpio, regular, write_cpio
from ci_tools.errors import BadInputError


def test_read_back_holds_init_and_console_nodes() -> None:
    archive = bench_initramfs(b"\x7fELF-fake", {"bin/extra": b"abc"})
    entries = {e.path: e for e in read_cpio(archive)}
    init = entries["init"]
    assert init.data == b"\x7fELF-fake" and stat.S_ISREG(init.mode) and init.mode & 0o111
    console = entries["dev/console"]
    assert stat.S_ISCHR(console.mode) and console.rdev == (5, 1)
    assert stat.S_ISCHR(entries["dev/null"].mode) and entries["dev/null"].rdev == (1, 3)
    assert stat.S_ISDIR(entries["bin"].mode) and entries["bin/extra"].data == b"abc"
    assert {"proc", "sys", "tmp", "dev"} <= set(entries)


def test_same_inputs_same_bytes() -> None:
    assert bench_initramfs(b"x" * 1001) == bench_initramfs(b"x" * 1001)
    assert bench_initramfs(b"x" * 1001) != bench_initramfs(b"y" * 1001)


def test_alignment_and_trailer() -> None:
    for size in range(6):
        archive = write_cpio([regular("f", b"z" * size)])
        assert len(archive) % 4 == 0
        assert archive.rstrip(b"\0").endswith(b"TRAILER!!!")
        assert read_cpio(archive)[0].data == b"z" * size


def test_owner_and_mtime_are_fixed() -> None:
    archive = write_cpio([regular("f", b"1")])
    header = archive[:110]
    uid, gid, mtime = (int(header[6 + 8 * i : 14 + 8 * i], 16) for i in (2, 3, 5))
    assert (uid, gid, mtime) == (0, 0, 0)


def test_rejects_absolute_and_repeated_paths() -> None:
    with pytest.raises(BadInputError):
        write_cpio([regular("/init", b"")])
    with pytest.raises(BadInputError):
        write_cpio([regular("a", b""), regular("a", b"")])


def test_gnu_cpio_reads_it() -> None:
    """An independent reader agrees (.ci/run installs GNU cpio)."""
    assert shutil.which("cpio"), "GNU cpio is missing: apt-get install cpio"
    archive = bench_initramfs(b"hello")
    listing = subprocess.run(
        ["cpio", "-t", "-v"], input=archive, capture_output=True, check=True
    ).stdout.decode()
    assert "dev/console" in listing and "init" in listing
