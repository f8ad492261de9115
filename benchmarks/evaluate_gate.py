#!/usr/bin/env python3
"""Measure the benchmark gate of ``ci_tools compare`` on real boots of this machine.

It boots the Linux guest many times (through ci_tools, like ``bench linux``),
keeps every boot's samples, and then replays pull requests that change
nothing and pull requests that slow one benchmark down:

* false alarms: A/A comparisons of two disjoint sets of real boots of the
  same kernel; a table with any "regression" row is a false alarm (the
  goal is at most 1 % of tables);
* detection: the same draws with the head samples of one benchmark scaled
  by 2 %, 5 % and 10 %; detected when that row says "regression" (the goal
  is at least 95 % at 5 % in deterministic mode);
* runner time: the wall time of the boots one comparison needs (base and
  head), from the boots' own ``wall_s``; the goal is 10 minutes per profile.

Deterministic mode draws base and head from one pool of boots whose kernel
command lines differ (layouts), the case ``--boots`` covers.  Wall-clock
mode draws base and head from *different runs*, so drift between runs (what
makes wall-clock gating hard) is in the figures; it is replayed without a
calibration (``compare``'s default) and with the calibration that
``ci_tools calibrate`` makes from the same runs (in-sample, so optimistic).

Result files go to ``--data`` (default: ``evaluate-gate`` in ci_tools'
cache) and are reused on the next call; ``--no-collect`` only analyses
what is there.
Run it niced in the background: collecting the default pools (2 x 40
deterministic boots, 4 x 10 wall-clock boots) takes about 22 minutes of
one core, the replay about 20 more.

    nice python benchmarks/evaluate_gate.py
    nice python benchmarks/evaluate_gate.py --no-collect --boots-per-side 8 --trials 100
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ci_tools.compare import calibration, decide, inputs, model
from ci_tools.compare.model import Verdict
from ci_tools.results import store
from ci_tools.results.model import Result

SCALES = (1.02, 1.05, 1.10)
MODES = ("deterministic", "wallclock")


@dataclass(frozen=True)
class Boot:
    run: Result
    index: int

    @property
    def wall_s(self) -> float:
        return float(self.run.data["boots"][self.index]["wall_s"])

    @property
    def label(self) -> str:
        return f"{self.run.path.stem if self.run.path else '?'}#{self.index}"


# --- collecting -------------------------------------------------------------------


def collect(data: Path, mode: str, runs: int, boots: int, rounds: int) -> list[Result]:
    """``runs`` result files of ``boots`` boots each; existing files are reused."""
    from ci_tools.bench import run
    from ci_tools.boot.qemu import Mode
    from ci_tools.build import linux_guest
    from ci_tools.host import provision

    out = []
    for k in range(runs):
        path = data / f"{mode}-run{k}.json"
        if path.exists():
            out.append(store.load(path))
            continue
        provision.ensure_packages()
        # Each run gets its own command line (and so its own set of layouts).
        cmdline = run.DEFAULT_CMDLINE + (f" ci_tools.eval={k}" if k else "")
        target = run.GuestTarget(
            name="linux", kernel=linux_guest.find_linux_kernel(None), cmdline=cmdline
        )
        options = run.BenchOptions(
            rounds=rounds, boots=boots, mode=Mode(mode), accel="tcg", output=path
        )
        print(f"collecting {path} ({boots} boots x {rounds} round(s), {mode})", file=sys.stderr)
        out.append(run.run_guest(target, options))
    return out


def existing(data: Path, mode: str) -> list[Result]:
    return [store.load(p) for p in sorted(data.glob(f"{mode}-run*.json"))]


# --- synthetic results from chosen boots ----------------------------------------------


def assemble(
    boots: Sequence[Boot], *, name: str, scale: Mapping[str, float] | None = None
) -> Result:
    """A result made of the chosen boots (renumbered 0..n-1), some benchmarks scaled."""
    first = boots[0].run.data
    doc: dict[str, Any] = copy.deepcopy({k: v for k, v in first.items() if k != "benchmarks"})
    doc["boots"] = []
    doc["benchmarks"] = {}
    doc["skipped"] = []
    doc["extras"] = {}
    doc["setup"]["boots"] = len(boots)
    for new, boot in enumerate(boots):
        record = dict(boot.run.data["boots"][boot.index], index=new)
        doc["boots"].append(record)
        for bench_name, bench in boot.run.data["benchmarks"].items():
            factor = (scale or {}).get(bench_name, 1.0)
            samples = doc["benchmarks"].setdefault(bench_name, {"samples": []})["samples"]
            for s in bench["samples"]:
                if s["boot"] != boot.index:
                    continue
                total = round(s["total_ns"] * factor)
                samples.append(dict(s, boot=new, total_ns=total,
                                    per_iter_ns=total // s["iterations"]))  # fmt: skip
        for skip in boot.run.data["skipped"]:
            if skip["boot"] == boot.index:
                doc["skipped"].append(dict(skip, boot=new))
    return Result(doc, Path(name))


# --- the replay -------------------------------------------------------------------------


@dataclass
class Tally:
    tables: int = 0
    false_alarm_tables: int = 0
    inconclusive_tables: int = 0
    detected: int = 0
    inconclusive_row: int = 0

    def rate(self, count: int) -> float:
        return count / self.tables if self.tables else float("nan")


def draw(
    pool: Sequence[Boot], runs: Sequence[Result], mode: str, n: int, rng: np.random.Generator
) -> tuple[list[Boot], list[Boot]]:
    if mode == "deterministic" or len(runs) < 2:
        picked = rng.choice(len(pool), size=2 * n, replace=False)
        return [pool[i] for i in picked[:n]], [pool[i] for i in picked[n:]]
    a, b = rng.choice(len(runs), size=2, replace=False)
    by_run = [[bt for bt in pool if bt.run is runs[k]] for k in (a, b)]
    if min(len(by_run[0]), len(by_run[1])) < n:
        raise SystemExit(f"runs have fewer than {n} boots: collect more or lower --boots-per-side")
    base = [by_run[0][i] for i in rng.choice(len(by_run[0]), size=n, replace=False)]
    head = [by_run[1][i] for i in rng.choice(len(by_run[1]), size=n, replace=False)]
    return base, head


def replay(
    pool: Sequence[Boot],
    runs: Sequence[Result],
    mode: str,
    n: int,
    *,
    trials: int,
    detect_trials: int,
    min_effects: Mapping[str, float] | None,
    alpha: float,
    seed: int,
    noise_floors: Mapping[str, float] | None = None,
) -> tuple[Tally, dict[tuple[str, float], Tally], dict[str, int]]:
    rng = np.random.default_rng(seed)
    names = runs[0].benchmark_names()
    aa = Tally()
    false_rows: dict[str, int] = {name: 0 for name in names}
    for _ in range(trials):
        base, head = draw(pool, runs, mode, n, rng)
        c = decide.compare_pairs(
            [(assemble(base, name="base.json"), assemble(head, name="head.json"))],
            min_effects=min_effects, alpha=alpha, noise_floors=noise_floors,
        )  # fmt: skip
        aa.tables += 1
        flagged = [r.benchmark for r in c.rows if r.verdict is Verdict.REGRESSION]
        aa.false_alarm_tables += bool(flagged)
        aa.inconclusive_tables += c.exit_code == 2
        for f in flagged:
            false_rows[f] += 1
    detection: dict[tuple[str, float], Tally] = {}
    for name in names:
        for scale in SCALES:
            t = detection[(name, scale)] = Tally()
            for _ in range(detect_trials):
                base, head = draw(pool, runs, mode, n, rng)
                c = decide.compare_pairs(
                    [(assemble(base, name="base.json"),
                      assemble(head, name="head.json", scale={name: scale}))],
                    min_effects=min_effects, alpha=alpha, noise_floors=noise_floors,
                )  # fmt: skip
                t.tables += 1
                row = next(r for r in c.rows if r.benchmark == name)
                t.detected += row.verdict is Verdict.REGRESSION
                t.inconclusive_row += row.verdict is Verdict.INCONCLUSIVE
                others = [
                    r.benchmark
                    for r in c.rows
                    if r.verdict is Verdict.REGRESSION and r.benchmark != name
                ]
                t.false_alarm_tables += bool(others)
                for other in others:
                    false_rows[other] += 1
    return aa, detection, false_rows


# --- reporting ----------------------------------------------------------------------------


def spread_line(runs: Sequence[Result]) -> list[str]:
    out = []
    for name in runs[0].benchmark_names():
        values = [v for r in runs for v in (inputs.per_boot(r, name) or model.Side(
            values=(), samples=0)).values]  # fmt: skip
        if values:
            med = statistics.median(values)
            out.append(f"    {name:<11} median {med:>10,.0f} ns  per-boot range "
                       f"{min(values) / med - 1:+.1%} .. {max(values) / med - 1:+.1%}")  # fmt: skip
    return out


def report(
    pool: Sequence[Boot],
    runs: Sequence[Result],
    mode: str,
    n: int,
    boot_s: float,
    title: str,
    args: argparse.Namespace,
    min_effects: Mapping[str, float] | None,
    noise_floors: Mapping[str, float] | None,
) -> None:
    t0 = time.monotonic()
    aa, det, false_rows = replay(
        pool, runs, mode, n, trials=args.trials, detect_trials=args.detect_trials,
        min_effects=min_effects, alpha=args.alpha, seed=1000 + n, noise_floors=noise_floors,
    )  # fmt: skip
    runner = 2 * n * boot_s
    print(f"\n  {n} boots per side{title} ({2 * n} boots per comparison, runner time "
          f"{runner:.0f} s = {runner / 60:.1f} min per profile; analysis "
          f"{time.monotonic() - t0:.0f} s):")  # fmt: skip
    alarms = f"{aa.false_alarm_tables}/{aa.tables} = {aa.rate(aa.false_alarm_tables):.2%}"
    unsure = aa.rate(aa.inconclusive_tables)
    print(f"    false alarms (A/A, whole table of {len(false_rows)} rows): {alarms}; "
          f"tables inconclusive (exit 2): {unsure:.1%}")  # fmt: skip
    if any(false_rows.values()):
        print("      rows that alarmed (A/A and detection tables): "
              + ", ".join(f"{k} {v}" for k, v in false_rows.items() if v))  # fmt: skip
    print("    detection     " + "".join(f"{f'+{s - 1:.0%}':>22}" for s in SCALES))
    totals = {s: Tally() for s in SCALES}
    for name in runs[0].benchmark_names():
        cells = []
        for s in SCALES:
            t = det[(name, s)]
            tot = totals[s]
            tot.tables += t.tables
            tot.detected += t.detected
            tot.inconclusive_row += t.inconclusive_row
            tot.false_alarm_tables += t.false_alarm_tables
            cells.append(f"{t.rate(t.detected):>7.0%} (incl. {t.rate(t.inconclusive_row):>4.0%})")
        print(f"      {name:<11}" + "".join(f"{c:>22}" for c in cells))
    print("      all        " + "".join(
        f"{f'{t.rate(t.detected):.0%} (incl. {t.rate(t.inconclusive_row):.0%})':>22}"
        for t in totals.values()))  # fmt: skip
    others = sum(t.false_alarm_tables for t in totals.values())
    print(f"      other rows flagged in detection tables: {others}/"
          f"{sum(t.tables for t in totals.values())}")  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--data", type=Path, help="result files, kept between calls (default: ci_tools' cache)"
    )
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--det-runs", type=int, default=2, help="deterministic runs to collect")
    parser.add_argument("--det-boots", type=int, default=40, help="boots per deterministic run")
    parser.add_argument("--wall-runs", type=int, default=4, help="wall-clock runs to collect")
    parser.add_argument("--wall-boots", type=int, default=10, help="boots per wall-clock run")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per boot when collecting")
    parser.add_argument("--boots-per-side", default="8,12,16", help="comma list: n boots each side")
    parser.add_argument("--trials", type=int, default=400, help="A/A comparisons per setting")
    parser.add_argument("--detect-trials", type=int, default=100, help="per benchmark and scale")
    parser.add_argument("--alpha", type=float, default=decide.DEFAULT_ALPHA)
    parser.add_argument("--config", type=Path, help="take min_effect from this ci_tools.toml")
    parser.add_argument("--no-collect", action="store_true", help="analyse existing files only")
    args = parser.parse_args(argv)
    if args.data is None:
        from ci_tools.util.paths import cache_dir

        args.data = cache_dir("evaluate-gate")
    min_effects = decide.min_effects_from_config(args.config) if args.config else None
    sizes = [int(x) for x in args.boots_per_side.split(",")]
    started = time.monotonic()
    for mode in args.modes.split(","):
        if args.no_collect:
            runs = existing(args.data, mode)
        elif mode == "deterministic":
            runs = collect(args.data, mode, args.det_runs, args.det_boots, args.rounds)
        else:
            runs = collect(args.data, mode, args.wall_runs, args.wall_boots, args.rounds)
        if not runs:
            print(f"{mode}: no result files in {args.data}")
            continue
        pool = [Boot(r, i) for r in runs for i in range(len(r.data["boots"]))
                if r.data["boots"][i]["status"]["state"] == "complete"]  # fmt: skip
        boot_s = statistics.mean(b.wall_s for b in pool)
        rounds = runs[0].setup.rounds
        print(f"\n=== {mode} mode: {len(pool)} real boots in {len(runs)} run(s), "
              f"{rounds} round(s) per boot, {boot_s:.1f} s per boot on average ===")  # fmt: skip
        print("  per-boot spread of the pool:")
        print("\n".join(spread_line(runs)))
        effects = {
            n: decide.min_effect_for(n, min_effects, mode) for n in runs[0].benchmark_names()
        }
        print("  minimum effects: " + ", ".join(f"{k} {v:.0%}" for k, v in effects.items()))
        variants: list[tuple[str, Mapping[str, float] | None]] = [("", None)]
        if mode == "wallclock" and len(runs) >= 2:
            floors = calibration.calibrate(runs)["noise_floor"]
            print("  calibration across its runs (`ci_tools calibrate`, in-sample): "
                  + ", ".join(f"{k} {v:.0%}" for k, v in floors.items()))  # fmt: skip
            variants.append((" with that calibration", floors))
        for n in sizes:
            if mode != "deterministic" and min(len(r.data["boots"]) for r in runs) < n:
                print(f"\n  {n} boots per side: skipped, the runs have fewer boots")
                continue
            if 2 * n > len(pool):
                print(f"\n  {n} boots per side: skipped, the pool has {len(pool)} boots")
                continue
            for title, floors in variants:
                report(pool, runs, mode, n, boot_s, title, args, min_effects, floors)
    print("\n(incl. = share of those rows that were inconclusive rather than no change)")
    print(f"evaluation took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
