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


def _newc(ino: int, mode: int, nlink: int, size: int, rdev: tuple[int, int], name: bytes) -> bytes:
    """A newc header written out from the format's description (cpio(5)): 13 fields of
    8 upper-case hex digits after "070701", the name with its NUL, padded to 4 bytes."""
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0], rdev[1], len(name) + 1, 0]
    head = b"070701" + "".join(f"{f:08X}" for f in fields).encode() + name + b"\0"
    return head + b"\0" * (-len(head) % 4)


def test_the_bytes_are_the_newc_format_field_by_field() -> None:
    from ci_tools.build.initramfs import char_device, directory, symlink

    archive = write_cpio([directory("d"), regular("d/f", b"abcde", executable=True),
                          regular("g", b""), symlink("d/l", "f"), char_device("c", 5, 1),
                          char_device("n", 1, 3, perm=0o666)])  # fmt: skip
    expected = (
        _newc(1, 0o040755, 2, 0, (0, 0), b"d")
        + _newc(2, 0o100755, 1, 5, (0, 0), b"d/f") + b"abcde\0\0\0"
        + _newc(3, 0o100644, 1, 0, (0, 0), b"g")
        + _newc(4, 0o120777, 1, 1, (0, 0), b"d/l") + b"f\0\0\0"
        + _newc(5, 0o020600, 1, 0, (5, 1), b"c")
        + _newc(6, 0o020666, 1, 0, (1, 3), b"n")
        + _newc(0, 0, 1, 0, (0, 0), b"TRAILER!!!")
    )  # fmt: skip
    assert archive == expected
    assert [(e.path, e.mode, e.data, e.rdev) for e in read_cpio(archive)] == [
        ("d", 0o040755, b"", (0, 0)), ("d/f", 0o100755, b"abcde", (0, 0)),
        ("g", 0o100644, b"", (0, 0)), ("d/l", 0o120777, b"f", (0, 0)),
        ("c", 0o020600, b"", (5, 1)), ("n", 0o020666, b"", (1, 3)),
    ]  # fmt: skip


def test_the_bench_initramfs_layout() -> None:
    archive = bench_initramfs(b"ELF", {"/usr/lib/x.so": b"so", "bin/tool": b"t"})
    assert [(e.path, oct(e.mode)) for e in read_cpio(archive)] == [
        ("dev", "0o40755"), ("dev/console", "0o20600"), ("dev/null", "0o20666"),
        ("proc", "0o40755"), ("sys", "0o40755"), ("tmp", "0o40755"), ("init", "0o100755"),
        ("usr", "0o40755"), ("usr/lib", "0o40755"), ("usr/lib/x.so", "0o100755"),
        ("bin", "0o40755"), ("bin/tool", "0o100755"),
    ]  # fmt: skip


def test_a_broken_archive_and_a_bad_path_are_named() -> None:
    with pytest.raises(BadInputError, match=r"^not a newc cpio archive at byte 112$"):
        read_cpio(write_cpio([regular("f", b"")])[:112] + b"garbage")
    with pytest.raises(BadInputError, match=r"^invalid or repeated initramfs path ''$"):
        write_cpio([regular("", b"")])
