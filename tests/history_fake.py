"""A test history of main, built from real result files.

Every commit's runs are real results of the demo kernel (``fixtures/history``:
one ``bench profile <p> --quick --boots 4`` each, whose boots repeat exactly)
and of the Linux reference guest (``fixtures/results/linux-det-8boots-{a,b}``:
16 real boots with their real spread; each commit takes 4 of them at random),
with known steps injected by scaling a benchmark from a given commit on, and
a setup change (another QEMU version, every figure 7 % slower) at another.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ci_tools.history.record import Record
from ci_tools.results import store
from ci_tools.results.model import Result

from conftest import FIXTURES

DEMO = FIXTURES / "history"
PROFILES = ("fortress", "balanced", "performance", "ludicrous")
LINUX = (FIXTURES / "results" / "linux-det-8boots-a.json",
         FIXTURES / "results" / "linux-det-8boots-b.json")  # fmt: skip
START = dt.datetime(2026, 9, 1, 9, 0, tzinfo=dt.timezone.utc)

COMMITS = 34
SETUP_CHANGE = 20  # from this commit on: QEMU 8.2.0, every figure x1.07
# (commit index, profile, benchmark) -> factor from that commit on
STEPS: Mapping[tuple[int, str, str], float] = {
    (6, "fortress", "trap"): 1.05,
    (12, "fortress", "alloc_free"): 1.02,
    (9, "balanced", "page_fault"): 0.95,
    (15, "performance", "context_switch"): 1.02,
    (25, "ludicrous", "copy"): 1.05,
    (28, "fortress", "overflow_math"): 0.98,
    (10, "linux", "getpid"): 1.05,
    (16, "linux", "stat"): 1.02,
    (27, "linux", "read_null"): 1.05,
}


def sha(i: int) -> str:
    return hashlib.sha1(f"commit {i}".encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Commit:
    index: int
    sha: str
    parents: tuple[str, ...]
    date: str


def commits(n: int = COMMITS) -> list[Commit]:
    return [
        Commit(index=i, sha=sha(i), parents=(sha(i - 1),) if i else (),
               date=(START + dt.timedelta(hours=5 * i)).isoformat())
        for i in range(n)
    ]  # fmt: skip


def _scaled(doc: dict[str, Any], factors: Mapping[str, float]) -> None:
    for name, bench in doc["benchmarks"].items():
        for s in bench["samples"]:
            s["total_ns"] = round(s["total_ns"] * factors.get(name, 1.0))
            s["per_iter_ns"] = s["total_ns"] // s["iterations"]


def _linux_boots(rng: np.random.Generator) -> dict[str, Any]:
    """4 of the 16 real Linux boots, renumbered 0-3."""
    docs = [json.loads(p.read_text()) for p in LINUX]
    pool = [(d, b["index"]) for d in docs for b in d["boots"]]
    picked = [pool[i] for i in rng.choice(len(pool), 4, replace=False)]
    doc = copy.deepcopy(docs[0])
    doc["boots"] = [dict(d["boots"][i], index=k) for k, (d, i) in enumerate(picked)]
    for name, bench in doc["benchmarks"].items():
        bench["samples"] = [
            dict(s, boot=k)
            for k, (d, i) in enumerate(picked)
            for s in d["benchmarks"][name]["samples"]
            if s["boot"] == i
        ]
    doc["skipped"], doc["extras"] = [], {}
    doc["setup"]["boots"] = 4
    return doc


def run(profile: str, commit: Commit, rng: np.random.Generator) -> Result:
    """The result of ``profile`` at ``commit``: real figures, the injected steps so far."""
    if profile == "linux":
        doc = _linux_boots(rng)
    else:
        doc = json.loads((DEMO / f"{profile}.json").read_text())
    factors: dict[str, float] = {}
    for (at, p, bench), factor in STEPS.items():
        if p == profile and commit.index >= at:
            factors[bench] = factors.get(bench, 1.0) * factor
    if commit.index >= SETUP_CHANGE:
        doc["setup"]["qemu"]["version"] = "8.2.0"
        factors = {n: factors.get(n, 1.0) * 1.07 for n in doc["benchmarks"]}
    _scaled(doc, factors)
    doc["provenance"].update(git_commit=commit.sha, git_dirty=False,
                             started_at=commit.date, finished_at=commit.date)  # fmt: skip
    store.validate(doc, source=f"{profile}@{commit.index}")
    return Result(doc, Path(f"{profile}-{commit.index}.json"))


def history(
    n: int = COMMITS, profiles: tuple[str, ...] = (*PROFILES, "linux"), seed: int = 15
) -> list[Record]:
    rng = np.random.default_rng(seed)
    return [
        Record(commit=c.sha, parents=c.parents, date=c.date, subject=f"commit {c.index}",
               result=run(p, c, rng), recorded_at=c.date)
        for c in commits(n)
        for p in profiles
    ]  # fmt: skip


def injected(profile: str, benchmark: str) -> list[int]:
    """The commits where a step was injected into this benchmark of this profile."""
    return sorted(at for at, p, b in STEPS if (p, b) == (profile, benchmark))
