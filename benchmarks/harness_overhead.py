#!/usr/bin/env python3
"""How much wall time does ci_tools add on top of QEMU itself?

Runs, interleaved and side by side in one process, N times each:

  bare      the exact QEMU command a bench run used (same kernel, initramfs,
            command line, accelerator and -icount), minus only the QMP socket,
            pidfile and VM name, with its serial output thrown away;
  cli       ``python -m ci_tools bench linux`` with the same settings (Python
            start-up, cache checks, KVM verdict, pexpect reading, parsing,
            schema validation, result file);
  nox       ``nox -s bench-linux`` with the same settings (adds nox and the
            set-up check).

Prints the median wall time of each, and each harness's median ratio to bare
over the interleaved pairs.  Goal (issue 2): cli within 10% of bare.

    python benchmarks/harness_overhead.py --runs 5 [--mode deterministic|wallclock]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DROP_WITH_VALUE = {"-qmp", "-pidfile", "-name"}


def bare_command(result_file: Path) -> list[str]:
    command: list[str] = json.loads(result_file.read_text())["setup"]["qemu"]["command"]
    bare: list[str] = []
    skip = False
    for arg in command:
        if skip:
            skip = False
            continue
        if arg in DROP_WITH_VALUE:
            skip = True
            continue
        bare.append(arg)
    return bare


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--mode", default="deterministic", choices=("deterministic", "wallclock"))
    parser.add_argument("--no-nox", action="store_true", help="skip the nox column")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="harness-overhead-"))
    bench_args = ["--quick", "--accel", "tcg", "--mode", args.mode]
    cli = [sys.executable, "-m", "ci_tools", "bench", "linux", *bench_args]
    nox = [sys.executable, "-m", "nox", "-s", "bench-linux", "--", *bench_args]
    # One warm-up run builds/caches the bench binary and initramfs and gives the command.
    warm = work / "warm.json"
    subprocess.run([*cli, "-o", str(warm)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    bare = bare_command(warm)

    columns: dict[str, list[float]] = {"bare": [], "cli": []}
    if not args.no_nox:
        columns["nox"] = []
    for i in range(args.runs):
        columns["bare"].append(timed(bare))
        columns["cli"].append(timed([*cli, "-o", str(work / f"cli-{i}.json")]))
        if not args.no_nox:
            columns["nox"].append(timed([*nox, "-o", str(work / f"nox-{i}.json")]))
        latest = ", ".join(f"{name} {values[-1]:.2f} s" for name, values in columns.items())
        print(f"run {i + 1}/{args.runs}: {latest}", flush=True)

    print(f"\nharness overhead, {args.runs} interleaved runs, TCG {args.mode}, quick, "
          f"8 benchmarks, one boot each")  # fmt: skip
    print(f"{'':6} {'median s':>9} {'min s':>7} {'max s':>7} {'median ratio to bare':>21}")
    for name, values in columns.items():
        ratios = [v / b for v, b in zip(values, columns["bare"], strict=True)]
        print(f"{name:6} {statistics.median(values):9.2f} {min(values):7.2f} {max(values):7.2f} "
              f"{statistics.median(ratios):21.3f}")  # fmt: skip
    overhead = statistics.median(
        [c / b for c, b in zip(columns["cli"], columns["bare"], strict=True)]
    )
    verdict = "within" if overhead <= 1.10 else "OVER"
    print(f"\ncli vs bare: {100 * (overhead - 1):+.1f}% ({verdict} the 10% goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
