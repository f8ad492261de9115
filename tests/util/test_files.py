"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from ci_tools.util import locks
from ci_tools.util.files import write_atomic

from conftest import Child, at_once


def test_atomic_write_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.json"
    out.write_text("old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ci_tools.util.files.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(out, "new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_a_killed_writers_temporary_file_is_swept_a_live_ones_is_not(tmp_path: Path) -> None:
    target = tmp_path / "verdict.json"
    hold = (
        "import fcntl, os\n"
        f"fd = os.open({str(tmp_path / '.verdict.json.live.tmp')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('ready', flush=True)\n"
    )
    writer = Child(hold)
    dead = tmp_path / ".verdict.json.dead.tmp"
    dead.write_text('{"half": ')  # a writer killed mid-write: nobody holds it
    young = tmp_path / ".verdict.json.young.tmp"
    young.write_text("")  # made this instant, locked a moment later
    then = time.time() - locks.UNLOCKED_GRACE_S - 60
    for path in (dead, tmp_path / ".verdict.json.live.tmp"):
        os.utime(path, (then, then))
    try:
        write_atomic(target, '{"ok": true}')
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == [".verdict.json.live.tmp", ".verdict.json.young.tmp", "verdict.json"]
    finally:
        writer.finish()


WRITE_MANY = """
import json, sys
from pathlib import Path
from ci_tools.util.files import write_atomic
print("ready", flush=True)
for i in range(300):
    write_atomic(Path(sys.argv[1]), json.dumps({"writer": sys.argv[2], "i": i, "pad": "x" * 20000}))
"""


def test_concurrent_writers_and_a_reader_never_see_half_a_file(tmp_path: Path) -> None:
    """Four processes rewrite one shared file (a KVM verdict, a result) while this one
    reads it: every read is a whole document, and no temporary file is left."""
    target = tmp_path / "shared.json"
    write_atomic(target, json.dumps({"writer": "first", "i": 0, "pad": ""}))
    reads: list[object] = []

    def read_meanwhile() -> None:
        while not done.is_set():
            reads.append(json.loads(target.read_text()))  # raises on half a file

    done = threading.Event()
    reader = threading.Thread(target=read_meanwhile)
    reader.start()
    try:
        writers = at_once(WRITE_MANY, [[str(target), str(n)] for n in range(4)])
    finally:
        done.set()
        reader.join()
    assert [w.returncode for w in writers] == [0, 0, 0, 0], [w.stderr for w in writers]
    assert len(reads) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["shared.json"]
