"""How big the history branch gets: real git, real records of the demo kernel.

Records COMMITS commits of main, each with the demo kernel's four profiles
measured with BOOTS boots (the real 4-boot results of tests/fixtures/history,
their boots repeated; each commit with its own kernel hash, times and figures
moved by up to 10%), one push per commit as the bench workflow does, into a
bare repository; then prints the packed size after `git gc`, per run and per
commit, and the same after `history compact` keeps KEEP_DAYS days.

    python benchmarks/history_size.py --commits 200 --per-day 10 --boots 16
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import hashlib
import json
import random
import subprocess
import tempfile
import time
from pathlib import Path

from ci_tools.history import store
from ci_tools.history.record import Record
from ci_tools.results.model import Result

DEMO = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "history"
PROFILES = ("fortress", "balanced", "performance", "ludicrous")


def result(profile: str, boots: int, commit: str, rng: random.Random) -> Result:
    """A run as a new commit gives one: its own kernel hash, times, and figures that moved."""
    doc = json.loads((DEMO / f"{profile}.json").read_text())
    first = doc["boots"][0]
    doc["boots"] = [dict(copy.deepcopy(first), index=i, wall_s=round(rng.uniform(0.5, 0.9), 3))
                    for i in range(boots)]  # fmt: skip
    for bench in doc["benchmarks"].values():
        sample = bench["samples"][0]
        scale = rng.uniform(0.9, 1.1)
        bench["samples"] = [dict(sample, boot=i, total_ns=round(sample["total_ns"] * scale *
                                                               rng.uniform(0.999, 1.001)))
                            for i in range(boots)]  # fmt: skip
    kernel = hashlib.sha256(f"{commit}{profile}".encode()).hexdigest()
    doc["target"]["kernel"]["sha256"] = doc["target"]["bench_binary"]["sha256"] = kernel
    doc["provenance"]["started_at"] = doc["provenance"]["finished_at"] = (
        dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=rng.randrange(10**7))
    ).isoformat(timespec="seconds")
    for name, extras in doc["extras"].items():
        doc["extras"][name] = [dict(extras[0], boot=i) for i in range(boots)]
    doc["setup"]["boots"] = boots
    doc["provenance"]["git_commit"] = commit
    return Result(doc)


def packed_kib(bare: Path) -> float:
    subprocess.run(["git", "gc", "--quiet", "--aggressive", "--prune=now"], cwd=bare, check=True)
    out = subprocess.run(["git", "count-objects", "-v"], cwd=bare, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    fields = dict(line.split(": ") for line in out.splitlines())
    return int(fields["size-pack"]) + int(fields["size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--per-day", type=int, default=10)
    parser.add_argument("--boots", type=int, default=16)
    parser.add_argument("--keep-days", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare, work = Path(tmp) / "remote.git", Path(tmp) / "work"
        for repo, flags in ((bare, ["--bare"]), (work, [])):
            repo.mkdir()
            subprocess.run(["git", "init", "--quiet", *flags], cwd=repo, check=True)
        branch = store.HistoryBranch(repo=work, remote=str(bare))
        start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
        previous: tuple[str, ...] = ()
        rng = random.Random(15)
        began = time.monotonic()
        one = 0
        for i in range(args.commits):
            sha = hashlib.sha1(f"{i}".encode()).hexdigest()
            date = (start + dt.timedelta(days=i / args.per_day)).isoformat()
            records = [
                Record(commit=sha, parents=previous, date=date, subject=f"c{i}",
                       result=result(p, args.boots, sha, rng))
                for p in PROFILES
            ]  # fmt: skip
            one = len(store.encode(records[0]))
            branch.record(records)
            previous = (sha,)
        pushing = time.monotonic() - began
        size = packed_kib(bare)
        runs = args.commits * len(PROFILES)
        print(f"{args.commits} commits x {len(PROFILES)} profiles, {args.boots} boots a run: "
              f"one record {one / 1024:.1f} KiB as JSON")  # fmt: skip
        print(f"packed branch: {size} KiB = {size / runs:.2f} KiB a run, "
              f"{size / args.commits:.2f} KiB a commit (one push a commit: "
              f"{pushing / args.commits:.2f} s each here)")  # fmt: skip
        before, after = branch.compact(keep_days=args.keep_days)
        size = packed_kib(bare)
        print(f"after compact --keep-days {args.keep_days} ({args.commits / args.per_day:.0f} "
              f"days of history): {before} runs -> {after}, packed {size} KiB")  # fmt: skip


if __name__ == "__main__":
    main()
