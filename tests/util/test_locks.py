"""Locks shared by ci_tools processes: one waits for another and says so, and a sweep
removes only what no live process holds, whatever its pids say."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci_tools.util import locks

from conftest import Child, at_once

HOLD_FOR_A_WHILE = """
import sys, time
from pathlib import Path
from ci_tools.util import locks
with locks.exclusive(Path(sys.argv[1]), waiting="never said"):
    print("ready", flush=True)
    time.sleep(1.0)
    with open(sys.argv[2], "a") as log:
        log.write("first released\\n")
"""


def _aged(path: Path, seconds: float = locks.UNLOCKED_GRACE_S + 60) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_second_process_waits_for_the_lock_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock, log = tmp_path / "work.lock", tmp_path / "log"
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD_FOR_A_WHILE, str(lock), str(log)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert first.stdout is not None and first.stdout.readline() == "ready\n"
    assert locks.holder_pid(lock) == first.pid
    waiting = lambda: f"waiting for pid {locks.holder_pid(lock)}"  # noqa: E731
    with locks.exclusive(lock, waiting=waiting), log.open("a") as out:
        out.write("second holds it\n")
    first.communicate()
    assert log.read_text().splitlines() == ["first released", "second holds it"]
    assert f"waiting for pid {first.pid}" in capsys.readouterr().err


def test_an_unheld_lock_is_taken_without_a_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with locks.exclusive(tmp_path / "work.lock", waiting="waiting"):
        assert locks.holder_pid(tmp_path / "work.lock") == os.getpid()
    assert "waiting" not in capsys.readouterr().err


def test_sweep_removes_only_what_no_live_process_holds(tmp_path: Path) -> None:
    make = "from pathlib import Path\nfrom ci_tools.util import locks\n"
    live = Child(make + f"locks.private_dir(Path({str(tmp_path)!r}), 'run-live')\nprint('ready')")
    killed = Child(make + f"locks.private_dir(Path({str(tmp_path)!r}), 'run-dead')\nprint('ready')")
    killed.kill()  # SIGKILL: it could not remove its folder, and its lock died with it
    (tmp_path / "run-older-ci_tools").mkdir()  # made without a lock (an older ci_tools)
    half_made_old = tmp_path / ".new-old"
    half_made_old.mkdir()
    _aged(half_made_old)  # a run killed between making and locking its folder
    half_made_new = tmp_path / ".new-fresh"
    half_made_new.mkdir()  # being made this instant: locked a moment later
    try:
        removed = locks.sweep(tmp_path, "run-*")
        assert sorted(p.name for p in removed) == [".new-old", "run-dead", "run-older-ci_tools"]
        assert (tmp_path / "run-live").is_dir() and half_made_new.is_dir()
        assert not half_made_old.exists()
    finally:
        live.finish()


def test_a_folder_held_by_another_boot_of_this_process_is_kept(tmp_path: Path) -> None:
    """flock belongs to an open file: two boots of one harness (threads) hold their
    folders against each other as two processes do."""
    held = locks.private_dir(tmp_path, "run-a")
    try:
        assert locks.in_use(held.path)
        assert locks.sweep(tmp_path, "run-*") == []
    finally:
        held.release()
    assert not held.path.exists() and not locks.in_use(held.path)


CREATE_AND_SWEEP = """
import sys
from pathlib import Path
from ci_tools.boot import vms
runtime = Path(sys.argv[1])
print("ready", flush=True)
for i in range(150):
    vms.sweep(runtime)
    held = vms.new_folder(runtime, f"ci_tools-{sys.argv[2]}-{i}")
    (held.path / "qmp.sock").write_text("x")
    vms.sweep(runtime)  # another boot's sweep, at the worst moment
    assert (held.path / "qmp.sock").read_text() == "x", "a live folder was swept"
    held.release()
"""


def test_many_processes_making_and_sweeping_runtime_folders_never_lose_a_live_one(
    tmp_path: Path,
) -> None:
    runs = at_once(CREATE_AND_SWEEP, [[str(tmp_path), str(n)] for n in range(4)])
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [run.stderr for run in runs]
    assert list(tmp_path.iterdir()) == []  # each removed its own; nothing left behind
