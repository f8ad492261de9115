"""Which boots a run measures, and running them N at a time (no QEMU: boots are
stand-ins that wait for the stop request the way a console reader does)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from ci_tools.bench.schedule import Shard, boot_indices, jobs_for, run_boots
from ci_tools.boot.console import Stop
from ci_tools.boot.qemu import Mode
from ci_tools.errors import BadInputError


def test_shards_are_round_robin_and_cover_every_boot_once() -> None:
    shards = [boot_indices(first_boot=0, boots=16, shard=Shard.parse(f"{i}/3")) for i in (1, 2, 3)]
    assert shards[0] == (0, 3, 6, 9, 12, 15) and shards[1][:2] == (1, 4)
    assert sorted(i for s in shards for i in s) == list(range(16))
    # --first-boot K: the boots from index K on (their paddings), sharded the same way.
    assert boot_indices(first_boot=16, boots=4, shard=None) == (16, 17, 18, 19)
    assert boot_indices(first_boot=16, boots=4, shard=Shard.parse("2/2")) == (17, 19)


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_shard_that_is_not_i_of_n_is_refused(text: str) -> None:
    with pytest.raises(BadInputError, match="is not I/N"):
        Shard.parse(text)


def test_a_shard_with_no_boot_is_refused() -> None:
    with pytest.raises(BadInputError, match="holds no boot"):
        boot_indices(first_boot=0, boots=2, shard=Shard.parse("3/3"))


def test_jobs_default_to_the_cpus_only_where_neighbours_cannot_move_the_figures(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert jobs_for(None, Mode.DETERMINISTIC) == len(os.sched_getaffinity(0))
    assert jobs_for(None, Mode.WALLCLOCK) == 1
    assert jobs_for(3, Mode.WALLCLOCK) == 3  # as asked, but said
    assert "--jobs 3 in wall-clock mode" in capsys.readouterr().err
    assert jobs_for(3, Mode.DETERMINISTIC) == 3


def _boots(fail: int | None = None, interrupt: int | None = None) -> tuple[object, list[int]]:
    started: list[int] = []

    def boot(index: int, stop: Stop) -> str:
        started.append(index)
        if index == fail:
            return "failed"
        if index == interrupt:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches the main thread
        deadline = time.monotonic() + 30
        while not stop.requested and time.monotonic() < deadline:
            time.sleep(0.01)
        return f"stopped: {stop.reason}" if stop.requested else "complete"

    return boot, started


def _failure(result: str) -> str | None:
    return None if result == "complete" else result


def test_boots_run_in_order_and_a_failure_stops_a_serial_run() -> None:
    started: list[int] = []

    def boot(index: int, stop: Stop) -> str:
        started.append(index)
        return "failed" if index == 2 else "complete"

    ran = run_boots(range(5), boot, jobs=1, failure=_failure)
    assert started == [0, 1, 2] and ran.stopped == "failed"
    assert ran.done == {0: "complete", 1: "complete", 2: "failed"}


def test_a_failing_boot_stops_the_boots_running_beside_it_and_keeps_them() -> None:
    boot, started = _boots(fail=1)
    ran = run_boots(range(6), boot, jobs=2, failure=_failure)  # type: ignore[arg-type]
    assert sorted(started) == [0, 1]  # nothing new starts once a boot failed
    assert ran.stopped == "failed"
    assert ran.done[1] == "failed"
    assert ran.done[0] == "stopped: stopped because boot 2 failed: failed"


def test_ctrl_c_stops_every_running_boot_and_keeps_what_they_returned() -> None:
    boot, started = _boots(interrupt=0)
    ran = run_boots(range(6), boot, jobs=2, failure=_failure)  # type: ignore[arg-type]
    assert ran.stopped == "interrupted (Ctrl-C)"
    assert set(ran.done) == set(started) and len(started) >= 1
    assert all(r == "stopped: interrupted (Ctrl-C)" for r in ran.done.values())


def test_a_boot_that_raises_stops_the_others_and_the_error_is_raised() -> None:
    seen: list[str] = []

    def boot(index: int, stop: Stop) -> str:
        if index == 1:
            raise RuntimeError("a bug")
        while not stop.requested:
            time.sleep(0.01)
        seen.append(threading.current_thread().name)
        return "stopped"

    with pytest.raises(RuntimeError, match="a bug"):
        run_boots(range(4), boot, jobs=2, failure=_failure)
    assert len(seen) == 1  # boot 0 was asked to stop, and did
