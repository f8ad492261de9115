#!/usr/bin/env python3
"""Measure the shipped benchmark gate on real boots of this machine.

The gate measured is the one bench-pr runs: the repository's ci_tools.toml
(``[compare] min_effect``, ``[gate] min_boots``, ``max_boots``; ``--config``
for another), the looks and alpha spending of ``ci_tools.gate.sequential``,
and ``decide.compare_pairs`` at every look.  Pull requests are replayed
from a pool of real deterministic-mode boots of the Linux guest; a look
that needs more boots draws them from the pool, as bench-pr boots more.

* false alarms: A/A tables (both sides boots of the same kernel) with a
  regression or an improvement; the tables of this figure are *disjoint*
  (no boot is used twice), so they are independent trials: k/N with a
  one-sided 95 % Clopper-Pearson upper bound;
* inconclusive after the budget on those A/A tables, and the boots per
  side they spent (mean and 95th percentile);
* detection: a table whose head boots of one benchmark are slowed by 1, 2,
  5 and 10 % (every sample scaled); detected when that row says
  "regression".  These tables are redrawn from the pool (a boot appears in
  several of them), so they are rates over draws, not independent trials;
  "no change" on a slowdown at or above the row's threshold is counted too;
* one profile is replayed, as the share of an N-profile matrix it is in
  the shipped config (``--profiles``, default the config's): the first
  look has the boots the whole family needs, and each look decides this
  profile's rows at alpha_k / N (Bonferroni's share of the family).

Boots come from ``--data`` (default: ``evaluate-gate`` in ci_tools' cache),
collected in parts of ``--chunk`` boots (``bench linux --first-boot``) so an
interrupted collection keeps what it measured; existing parts are reused.
A boot takes about 11 s of one core (longer on a shared machine).

    nice python benchmarks/evaluate_gate.py --pools 2 --boots 48
    nice python benchmarks/evaluate_gate.py --no-collect
"""

from __future__ import annotations

import argparse
import copy
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci_tools import config
from ci_tools.compare import decide, inputs
from ci_tools.compare.model import Comparison, Verdict
from ci_tools.gate import sequential
from ci_tools.results import store
from ci_tools.results.model import Result

SCALES = (1.01, 1.02, 1.05, 1.10)
# The detection goals: the slowdown each benchmark must be caught at, 95 % of tables.
DETECTION_GOAL = {
    "getpid": 1.02, "read_null": 1.02, "write_null": 1.02, "stat": 1.02,
    "pipe": 1.05, "fork_exit": 1.05, "open_close": 1.05, "mmap_fault": 1.05,
}  # fmt: skip
PROFILE = "linux"
Pair = tuple[Result, Result]


@dataclass(frozen=True)
class Boot:
    run: Result
    index: int

    @property
    def wall_s(self) -> float:
        return float(next(b for b in self.run.data["boots"] if b["index"] == self.index)["wall_s"])


# --- collecting -------------------------------------------------------------------


def collect(data: Path, pools: int, boots: int, chunk: int) -> None:
    """``pools`` runs of ``boots`` boots each (own command line each), in parts."""
    from ci_tools.bench import run, targets
    from ci_tools.boot.qemu import Mode
    from ci_tools.host import provision

    for k in range(1, pools + 1):
        for first in range(0, boots, chunk):
            path = data / f"deterministic-pool{k}-part{first // chunk}.json"
            if path.exists():
                continue
            provision.ensure_packages()
            # The Linux guest as `bench linux` boots it (its PVH entry), each pool with
            # a command line of its own.
            target = targets.linux_target(
                None, targets.Overrides(cmdline=f"{config.DEFAULT_CMDLINE} ci_tools.eval={k}")
            )
            options = run.BenchOptions(
                boots=min(chunk, boots - first), first_boot=first, mode=Mode.DETERMINISTIC,
                accel="tcg", quick=True, output=path,
            )  # fmt: skip
            print(
                f"collecting {path} (boots {first}..{first + options.boots - 1})", file=sys.stderr
            )
            run.run_guest(target, options)


def load_pool(data: Path) -> list[Boot]:
    out = []
    for path in sorted(data.glob("deterministic-pool*-part*.json")):
        result = store.load(path)
        out += [
            Boot(result, b["index"])
            for b in result.data["boots"]
            if b["status"]["state"] == "complete"
        ]
    return out


# --- synthetic results from chosen boots ----------------------------------------------


def assemble(
    boots: Sequence[Boot], *, name: str, scale: Mapping[str, float] | None = None
) -> Result:
    """A result made of the chosen boots (renumbered 0..n-1), some benchmarks scaled."""
    first = boots[0].run.data
    doc: dict[str, Any] = copy.deepcopy({k: v for k, v in first.items() if k != "benchmarks"})
    doc["boots"], doc["benchmarks"], doc["skipped"], doc["extras"] = [], {}, [], {}
    doc["setup"]["boots"] = len(boots)
    for new, boot in enumerate(boots):
        record = next(b for b in boot.run.data["boots"] if b["index"] == boot.index)
        doc["boots"].append(dict(record, index=new))
        for bench_name, bench in boot.run.data["benchmarks"].items():
            factor = (scale or {}).get(bench_name, 1.0)
            samples = doc["benchmarks"].setdefault(bench_name, {"samples": []})["samples"]
            for s in bench["samples"]:
                if s["boot"] == boot.index:
                    total = round(s["total_ns"] * factor)
                    samples.append(dict(s, boot=new, total_ns=total,
                                        per_iter_ns=total // s["iterations"]))  # fmt: skip
        for skip in boot.run.data["skipped"]:
            if skip["boot"] == boot.index:
                doc["skipped"].append(dict(skip, boot=new))
    return Result(doc, Path(name))


# --- one pull request, look by look ----------------------------------------------------


@dataclass
class Table:
    comparison: Comparison
    boots: int  # per side, at the last look taken

    def verdict(self, benchmark: str) -> Verdict:
        return next(r.verdict for r in self.comparison.rows if r.benchmark == benchmark)


# take(n) -> n more boots for each side, or None when the pool has too few left.
Take = Callable[[int], "tuple[list[Boot], list[Boot]] | None"]


@dataclass
class Gate:
    """The shipped gate: its plan (looks, alpha spending) and its compare."""

    plan: sequential.Plan
    share: float  # this profile's share of the family's alpha (1 / profiles)
    min_effects: Mapping[str, float] | None

    def replay(
        self,
        take: Callable[[int], tuple[list[Boot], list[Boot]] | None],
        scale: Mapping[str, float],
    ) -> Table | None:
        """Decide one pull request; ``take(n)`` gives n more boots a side (None: none left)."""
        base: list[Boot] = []
        head: list[Boot] = []

        def measure(
            look: sequential.Look, names: Sequence[str]
        ) -> dict[str, tuple[Result, Result]]:
            more = take(look.boots - len(base))
            if more is None:
                return {}
            base.extend(more[0])
            head.extend(more[1])
            pair = (assemble(base, name="linux.base.json"),
                    assemble(head, name="linux.head.json", scale=scale))  # fmt: skip
            return {PROFILE: pair}

        outcome = sequential.run_looks(
            self.plan, [PROFILE], measure=measure,
            compare=lambda pairs, alpha: decide.compare_pairs(
                pairs, min_effects=self.min_effects, alpha=alpha * self.share,
                noise_boots=self.plan.max_boots),
            profile_of=lambda row: PROFILE,
        )  # fmt: skip
        if outcome is None:
            return None
        ran_out = outcome.looks[-1].boots != len(base)  # the pool had too few boots left
        return None if ran_out else Table(comparison=outcome.comparison, boots=len(base))


def disjoint_source(pool: Sequence[Boot], rng: random.Random) -> Take:
    """Boots for base and head, never handed out twice."""
    order = list(pool)
    rng.shuffle(order)

    def take(n: int) -> tuple[list[Boot], list[Boot]] | None:
        if len(order) < 2 * n:
            return None
        picked = [order.pop() for _ in range(2 * n)]
        return picked[:n], picked[n:]

    return take


# --- figures ------------------------------------------------------------------------------


def upper_bound(k: int, n: int) -> float:
    """One-sided 95 % Clopper-Pearson upper bound of a rate seen k times in n trials:
    the p at which seeing k or fewer has probability 5 % (by bisection)."""
    if k >= n:
        return 1.0

    def at_most_k(p: float) -> float:
        return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))

    low, high = k / n, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if at_most_k(mid) > 0.05 else (low, mid)
    return high


def rate(k: int, n: int) -> str:
    return f"{k}/{n} (95 % upper bound {upper_bound(k, n):.1%})" if n else "no tables"


def percentile95(values: Sequence[int]) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]) if ordered else 0.0


@dataclass
class Figures:
    aa: list[Table] = field(default_factory=list)
    detection: dict[tuple[str, float], list[Table]] = field(default_factory=dict)


def measure_gate(pool: Sequence[Boot], gate: Gate, trials: int, seed: int) -> Figures:
    figures = Figures()
    rng = random.Random(seed)
    take = disjoint_source(pool, rng)
    while (table := gate.replay(take, {})) is not None:
        figures.aa.append(table)
    names = pool[0].run.benchmark_names()
    for name in names:
        for scale in SCALES:
            tables = figures.detection[(name, scale)] = []
            for _ in range(trials):
                table = gate.replay(disjoint_source(pool, rng), {name: scale})
                if table is not None:
                    tables.append(table)
    return figures


def markdown(figures: Figures, gate: Gate, pool: Sequence[Boot], profiles: int) -> str:
    aa = figures.aa
    false = sum(1 for t in aa if t.comparison.count(Verdict.REGRESSION)
                or t.comparison.count(Verdict.IMPROVEMENT))  # fmt: skip
    unsure = sum(1 for t in aa if t.comparison.count(Verdict.INCONCLUSIVE))
    spent = [t.boots for t in aa]
    detect_spent = [t.boots for ts in figures.detection.values() for t in ts]
    looks = ", ".join(f"{k.boots} (alpha {k.alpha * gate.share:.2g})" for k in gate.plan.looks)
    lines = [
        f"Replayed from {len(pool)} real deterministic boots of the Linux guest "
        f"(quick suite); one profile of a {profiles}-profile matrix; looks at {looks} "
        "boots per side.",
        "",
        "| figure | measured | goal |",
        "|---|---|---|",
        f"| false alarms: A/A tables with a regression or improvement (disjoint boots) | "
        f"{rate(false, len(aa))} | <= 1 % |",
        f"| A/A tables still inconclusive after the budget | {rate(unsure, len(aa))} | <= 2 % |",
        f"| boots per side, A/A: mean, 95th percentile | "
        f"{statistics.mean(spent) if spent else 0:.1f}, {percentile95(spent):.0f} | mean <= 10 |",
        f"| boots per side, slowed tables: mean, 95th percentile | "
        f"{statistics.mean(detect_spent) if detect_spent else 0:.1f}, "
        f"{percentile95(detect_spent):.0f} | |",
    ]
    wrong = total = 0
    for (name, scale), tables in figures.detection.items():
        for t in tables:
            row = next(r for r in t.comparison.rows if r.benchmark == name)
            if scale - 1 >= row.threshold - 1e-12:
                total += 1
                wrong += row.verdict is Verdict.NO_CHANGE
    lines.append(f"| \"no change\" on a slowdown at or above its threshold (redrawn) | "
                 f"{wrong}/{total} | <= 1 % |")  # fmt: skip
    lines += ["", "Detection (share of redrawn tables whose slowed row says regression; "
              "inconclusive in brackets):", "",
              "| benchmark | threshold | " + " | ".join(f"+{s - 1:.0%}" for s in SCALES)
              + " | goal |", "|---|---|" + "---|" * (len(SCALES) + 1)]  # fmt: skip
    for name in pool[0].run.benchmark_names():
        cells = []
        thresholds: set[float] = set()
        for scale in SCALES:
            tables = figures.detection.get((name, scale), [])
            hit = sum(1 for t in tables if t.verdict(name) is Verdict.REGRESSION)
            unsure_row = sum(1 for t in tables if t.verdict(name) is Verdict.INCONCLUSIVE)
            thresholds |= {r.threshold for t in tables for r in t.comparison.rows
                           if r.benchmark == name}  # fmt: skip
            n = len(tables) or 1
            cells.append(f"{hit / n:.0%} ({unsure_row / n:.0%})")
        goal = DETECTION_GOAL.get(name)
        low, high = min(thresholds, default=0.0), max(thresholds, default=0.0)
        shown = f"{low:.1%}" if f"{low:.1%}" == f"{high:.1%}" else f"{low:.1%}..{high:.1%}"
        lines.append(f"| {name} | {shown} | " + " | ".join(cells)
                     + f" | >= 95 % at +{(goal or 1) - 1:.0%} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def spread_lines(pool: Sequence[Boot]) -> list[str]:
    out = []
    runs = list({id(b.run): b.run for b in pool}.values())
    for name in runs[0].benchmark_names():
        sides = [inputs.per_boot(r, name) for r in runs]
        values = [v for side in sides if side is not None for v in side.values]
        if values:
            out.append(f"  {name:<11} median {statistics.median(values):>10,.0f} ns, "
                       f"max/min - 1 over {len(values)} boots: "
                       f"{max(values) / min(values) - 1:.2%}")  # fmt: skip
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, help="result files (default: ci_tools' cache)")
    parser.add_argument("--pools", type=int, default=2, help="runs to collect, own cmdline each")
    parser.add_argument("--boots", type=int, default=48, help="boots per pool")
    parser.add_argument("--chunk", type=int, default=12, help="boots per result file")
    parser.add_argument("--trials", type=int, default=40, help="slowed tables per cell")
    parser.add_argument("--config", type=Path, help="the gate's config (default: ci_tools.toml)")
    parser.add_argument("--profiles", type=int, help="profiles of the matrix (default: config's)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-collect", action="store_true", help="analyse existing files only")
    args = parser.parse_args(argv)
    if args.data is None:
        from ci_tools.util.paths import cache_dir

        args.data = cache_dir("evaluate-gate")
    args.data.mkdir(parents=True, exist_ok=True)
    path = args.config or Path(__file__).resolve().parent.parent / "ci_tools.toml"
    shipped = config.load(path, check_paths=False)
    profiles = args.profiles or len(shipped.profiles)
    if not args.no_collect:
        collect(args.data, args.pools, args.boots, args.chunk)
    pool = load_pool(args.data)
    if not pool:
        print(f"no boots in {args.data}: collect first", file=sys.stderr)
        return 3
    started = time.monotonic()
    gate = Gate(
        plan=sequential.plan(
            alpha=decide.DEFAULT_ALPHA, rows=profiles * len(pool[0].run.benchmark_names()),
            min_boots=shipped.gate.min_boots, max_boots=shipped.gate.max_boots,
        ),
        share=1 / profiles,
        min_effects=dict(shipped.compare.min_effect) or None,
    )  # fmt: skip
    print(f"{len(pool)} boots, {statistics.mean(b.wall_s for b in pool):.1f} s each on average; "
          f"config {path}", file=sys.stderr)  # fmt: skip
    print("\n".join(spread_lines(pool)), file=sys.stderr)
    figures = measure_gate(pool, gate, args.trials, args.seed)
    print(markdown(figures, gate, pool, profiles))
    print(f"replay took {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
