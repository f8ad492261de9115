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

import contextlib
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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
    pending = iter(indices)
    running: dict[Future[T], int] = {}
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="boot") as pool:
        try:
            while True:
                while len(running) < jobs and not stop.requested:
                    following = next(pending, None)
                    if following is None:
                        break
                    running[pool.submit(boot, following, stop)] = following
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=running.__getitem__):
                    index = running.pop(future)
                    ran.done[index] = result = future.result()
                    reason = failure(result)
                    if reason is not None and not stop.requested:
                        stop.request(f"stopped because boot {index + 1} failed: {reason}")
                        ran.stopped = reason
                if running or not stop.requested:
                    busy = ", ".join(str(i + 1) for i in sorted(running.values()))
                    output.phase(
                        f"{label}: {len(ran.done)} of {len(indices)} boot(s) done"
                        + (f"; running {busy}" if busy else "")
                    )
        except (KeyboardInterrupt, Interrupted) as exc:
            reason = str(exc) or "interrupted (Ctrl-C)"
            stop.request(reason)
            ran.stopped = ran.stopped or reason
            _collect(running, ran)
        except BaseException:
            stop.request("stopped: the harness failed")
            _collect(running, ran)
            raise
    return ran


def _collect(running: dict[Future[T], int], ran: Ran[T]) -> None:
    """The boots still running, once they have stopped (they were asked to)."""
    for future, index in running.items():
        with contextlib.suppress(Exception):  # the first error is the one raised
            ran.done[index] = future.result()
