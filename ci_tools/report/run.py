"""The table of one run: per-benchmark medians, for the terminal and the job summary."""

from __future__ import annotations

import statistics

from tabulate import tabulate

from ci_tools.report.tables import ns
from ci_tools.results.model import Result


def run_rows(result: Result) -> list[list[str]]:
    rows = []
    skipped = result.skipped()
    for name in result.benchmark_names():
        values = result.samples(name)
        median = statistics.median(values)
        spread = (max(values) - min(values)) / median * 100 if median else 0.0
        rows.append(
            [name, str(len(values)), ns(median), ns(min(values)), ns(max(values)),
             f"±{spread / 2:.1f}%"]
        )  # fmt: skip
    for name, reason in skipped.items():
        if name not in result.benchmark_names():
            rows.append([name, "0", "skipped", "", "", reason])
    return rows


def run_table(result: Result, *, fmt: str = "simple") -> str:
    """Per-benchmark medians of one result; ``fmt`` is a tabulate format."""
    setup = result.setup
    headers = ["benchmark", "samples", "median ns/iter", "min", "max", "spread"]
    table = tabulate(run_rows(result), headers=headers, tablefmt=fmt, disable_numparse=True,
                     colalign=("left", "right", "right", "right", "right", "right"))  # fmt: skip
    title = (
        f"{result.name}: {setup.accelerator.upper()}, {setup.mode}, "
        f"{'quick' if setup.quick else 'full'}, {setup.boots} boot(s) x "
        f"{setup.rounds} round(s)"
    )
    lines = [title, "", table]
    for name, nums in result.extras().items():
        lines.append(f"{name}: median {statistics.median(nums):,.1f} ({len(nums)} samples)")
    status = result.status
    if not status.complete:
        lines.append(f"INCOMPLETE ({status.kind.value}): {status.reason}")
    return "\n".join(lines)
