"""Result documents made from the boots of others: joined runs, and a run's first boots.

``join_boots`` joins runs of one setup that booted different boot indices
(``bench ... --first-boot K``) into one result, as if one run had made all
those boots: what adaptive sampling does when it measures more boots of a
side.  ``first_boots`` keeps a result's first ``n`` boots: what a side held
at an earlier look, so a decision taken then can be replayed from the final
files.  Both return documents that ``store.save`` validates, never edit
their inputs, and keep every sample of the boots they keep.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from ci_tools.errors import BadInputError
from ci_tools.results.model import Result

# What must match for boots of two runs to belong to one result: the same
# kernel, bench, setup and QEMU, only other boots.
_SAME_TARGET = ("name", "kind", "profile", "kernel", "bench_binary", "initramfs")
_SAME_SETUP = ("accelerator", "mode", "quick", "rounds", "cpu_model", "bench_mode")
_COMPLETE = {"state": "complete", "kind": "complete", "reason": None}


def join_boots(results: Sequence[Result]) -> dict[str, Any]:
    """One result document holding every boot of ``results``, in boot-index order.

    The first result gives the target, setup and provenance; the status is
    the first incomplete one, else complete.  Runs of another kernel or
    setup, and boot indices measured twice, are refused (BadInputError).
    """
    if not results:
        raise BadInputError("nothing to join: no result files")
    first = results[0]
    seen: set[int] = set()
    for r in results:
        where = str(r.path) if r.path else r.name
        for key in _SAME_TARGET:
            if r.data["target"].get(key) != first.data["target"].get(key):
                raise BadInputError(
                    f"{where}: target {key} differs from the first run's: its boots cannot "
                    "join that run",
                    hint="join only runs of one kernel and bench (more boots of one side)",
                )
        for key in _SAME_SETUP:
            if r.data["setup"].get(key) != first.data["setup"].get(key):
                raise BadInputError(
                    f"{where}: setup {key} differs from the first run's: its boots cannot "
                    "join that run",
                    hint="measure the extra boots the same way (mode, --quick, --rounds)",
                )
        indices = {b["index"] for b in r.data["boots"]}
        twice = sorted(indices & seen)
        if twice:
            raise BadInputError(
                f"{where}: boot index {twice[0]} is already in an earlier run: the same "
                "layout would count twice",
                hint="measure extra boots with --first-boot after the last boot index",
            )
        seen |= indices
    document = copy.deepcopy(dict(first.data))
    document["boots"] = sorted(
        (copy.deepcopy(b) for r in results for b in r.data["boots"]), key=lambda b: b["index"]
    )
    document["setup"]["boots"] = len(document["boots"])
    benchmarks: dict[str, Any] = {}
    extras: dict[str, list[Any]] = {}
    for r in results:
        for name, bench in r.data["benchmarks"].items():
            benchmarks.setdefault(name, {"samples": []})["samples"].extend(
                copy.deepcopy(bench["samples"])
            )
        for name, values in r.data["extras"].items():
            extras.setdefault(name, []).extend(copy.deepcopy(values))
    document["benchmarks"] = benchmarks
    document["extras"] = extras
    document["skipped"] = [copy.deepcopy(s) for r in results for s in r.data["skipped"]]
    incomplete = [r.data["status"] for r in results if r.data["status"]["state"] != "complete"]
    document["status"] = copy.deepcopy(incomplete[0] if incomplete else first.data["status"])
    last = max(results, key=lambda r: str(r.data["provenance"]["finished_at"]))
    document["provenance"]["finished_at"] = last.data["provenance"]["finished_at"]
    return document


def first_boots(result: Result, n: int) -> dict[str, Any]:
    """The result document of ``result``'s ``n`` lowest boot indices and their samples."""
    if n < 1:
        raise BadInputError(f"cannot keep {n} boots of a result: at least one is needed")
    keep = sorted(b["index"] for b in result.data["boots"])[:n]
    kept = set(keep)
    document = copy.deepcopy(dict(result.data))
    document["boots"] = [b for b in document["boots"] if b["index"] in kept]
    document["setup"]["boots"] = len(document["boots"])
    document["benchmarks"] = {
        name: {**bench, "samples": [s for s in bench["samples"] if s["boot"] in kept]}
        for name, bench in document["benchmarks"].items()
    }
    document["benchmarks"] = {k: v for k, v in document["benchmarks"].items() if v["samples"]}
    document["skipped"] = [s for s in document["skipped"] if s["boot"] in kept]
    document["extras"] = {
        name: [v for v in values if v["boot"] in kept]
        for name, values in document["extras"].items()
    }
    document["extras"] = {k: v for k, v in document["extras"].items() if v}
    if len(keep) < len(result.data["boots"]):
        # The status of these boots, not of the later ones left out.
        failed = [b["status"] for b in document["boots"] if b["status"]["state"] != "complete"]
        document["status"] = copy.deepcopy(failed[0]) if failed else dict(_COMPLETE)
    return document
