"""Which boots a run measures, and running them N at a time.

A run's boots have indices (the padding of each boot's command line follows
its index, so boot 5 is the same boot whoever runs it): ``--first-boot K``
starts at K, ``--shard I/N`` keeps every N-th of them (round robin, so each
shard's boots spread over the whole range of paddings), and ``--jobs N``
boots N of them at once, each QEMU read by a thread of its own.

Under ``-icount`` a guest's clock counts its own instructions, so boots
side by side report the same figures as boots one after the other; in
wall-clock mode neighbours disturb each other, and one boot at a time is
the default.  When a boot fails, or the run is interrupted (Ctrl-C,
SIGTERM), the running boots are stopped (``boot.console.Stop``) and every
boot that ran is handed back: what they measured is kept.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from ci_tools import output
from ci_tools.boot.console import Stop
from ci_tools.boot.qemu import Mode
from ci_tools.errors import BadInputError, Interrupted

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``: every count-th boot, from the index-th."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
        if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise BadInputError(
                f"--shard {text!r} is not I/N with 1 <= I <= N",
                hint="e.g. --shard 1/2 and --shard 2/2 for two runners; join the results "
                "with `ci_tools merge`",
            )
        return cls(index=int(match.group(1)), count=int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def boot_indices(*, first_boot: int, boots: int, shard: Shard | None) -> tuple[int, ...]:
    """The boot indices a run measures: ``boots`` from ``first_boot``, of them the shard's."""
    indices = range(first_boot, first_boot + boots)
    if shard is not None:
        indices = indices[shard.index - 1 :: shard.count]
    if not indices:
        raise BadInputError(
            f"shard {shard} of {boots} boot(s) holds no boot",
            hint=f"use at most {boots} shards, or more boots",
        )
    return tuple(indices)


def cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's share)."""
    return len(os.sched_getaffinity(0)) or 1


def jobs_for(asked: int | None, mode: Mode) -> int:
    """Boots at once: as asked; by default one per CPU in deterministic mode, else one."""
    if asked is None:
        return cpus() if mode is Mode.DETERMINISTIC else 1
    if asked > 1 and mode is Mode.WALLCLOCK:
        output.warn(
            f"--jobs {asked} in wall-clock mode: boots side by side slow each other down, "
            "and the figures show it; use --jobs 1 (the default) for figures worth comparing"
        )
    return asked


@dataclass(kw_only=True)
class Ran(Generic[T]):
    """What ``run_boots`` hands back: every boot that ran, by index, and why the
    run stopped early (None: every boot ran)."""

    done: dict[int, T] = field(default_factory=dict)
    stopped: str | None = None


def run_boots(
    indices: Sequence[int],
    boot: Callable[[int, Stop], T],
    *,
    jobs: int,
    failure: Callable[[T], str | None],
    label: str = "",
) -> Ran[T]:
    """``boot(index, stop)`` for each index, ``jobs`` at a time, in index order.

    The first boot for which ``failure`` names a reason stops the others (each
    returns as interrupted, with what it measured); so does Ctrl-C or SIGTERM
    reaching this (the main) thread.  ``boot`` reports errors in what it returns;
    anything it raises stops the others too and is raised again here.
    """
    ran: Ran[T] = Ran()
    stop = Stop()
    if jobs <= 1:
        for index in indices:
            ran.done[index] = result = boot(index, stop)
            reason = failure(result)
            if reason is not None:
                ran.stopped = reason
                break
        return ran
    # Plain threads pulling indices, each keeping what its boots returned: whenever
    # Ctrl-C lands in the main thread (even while a thread starts), every boot that
    # ran is in ``ran.done`` once the threads are joined.
    pending = iter(indices)
    lock = threading.Lock()
    running: set[int] = set()
    ended: queue.Queue[int] = queue.Queue()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                index = None if stop.requested else next(pending, None)
                if index is None:
                    return
                running.add(index)
            try:
                result = boot(index, stop)
            except BaseException as exc:
                errors.append(exc)
                stop.request("stopped: the harness failed")
                ended.put(index)
                return
            reason = failure(result)
            with lock:
                running.discard(index)
                ran.done[index] = result
                if reason is not None and not stop.requested:
                    stop.request(f"stopped because boot {index + 1} failed: {reason}")
                    ran.stopped = reason
            ended.put(index)

    threads = [threading.Thread(target=worker, name=f"boot-{n + 1}") for n in range(jobs)]
    try:
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads) or not ended.empty():
            try:
                ended.get(timeout=0.5)
            except queue.Empty:
                continue
            with lock:
                busy = ", ".join(str(i + 1) for i in sorted(running))
                done = len(ran.done)
            output.phase(f"{label}: {done} of {len(indices)} boot(s) done"
                         + (f"; running {busy}" if busy else ""))  # fmt: skip
    except (KeyboardInterrupt, Interrupted) as exc:
        reason = str(exc) or "interrupted (Ctrl-C)"
        stop.request(reason)
        ran.stopped = ran.stopped or reason
    finally:
        stop.request(stop.reason or "stopped")  # no new boot starts from here on
        for thread in threads:
            if thread.ident is not None:
                thread.join()
    if errors:
        raise errors[0]
    return ran
