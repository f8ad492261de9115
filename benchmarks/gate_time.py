#!/usr/bin/env python3
"""Time the whole ``bench-pr`` gate on this machine, serial against parallel.

Each scenario runs ``python -m ci_tools bench-pr`` as a pull request's CI job
would: in a fresh checkout of the head commit (a git worktree, so its kernels
are built from cold, as on a runner), against a merge base that bench-pr
checks out itself, at the default settings (adaptive: ``[gate]`` min_boots then more
boots for undecided profiles up to max_boots, deterministic mode), once with ``--jobs 1`` (one
boot at a time, one side after the other: how bench-pr ran before) and once
with the default jobs (one per CPU, both sides at once).  It prints, per
scenario, the wall time, boots per side, boots per minute (both sides'
boots over the wall time, builds included), and how the parallel run's
figures agree with the serial run's: every benchmark's median per profile
and side, which in deterministic mode should not move at all.

Then the Linux reference guest, on its own: the same boots by the route it
used to boot (the compressed bzImage) against the default (the kernel's PVH
entry), serially and with ``--jobs 2``, and on ``microvm``.

    nice python benchmarks/gate_time.py                       # everything, ~1 hour here
    nice python benchmarks/gate_time.py --profiles balanced   # one profile only
    nice python benchmarks/gate_time.py --skip-gate --linux-boots 4
    nice python benchmarks/gate_time.py --skip-gate --linux-boots 0 --reuse linux

With a stored merge base: main's run of the merge base (24 boots, as
history.yml records it) is put on a history branch in a local bare
repository, then one profile's bench-pr runs without and with ``--history``:
a profile of this repository (the demo kernel: the builds are the time) and
the one profile of a scratch repository that boots the reference Linux guest
(the boots are the time).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ci_tools.bench import run, targets  # noqa: E402
from ci_tools.boot.qemu import Mode  # noqa: E402
from ci_tools.gate.manifest import SIDES, result_path  # noqa: E402
from ci_tools.gate.measure import config_profiles, harness_env  # noqa: E402
from ci_tools.host import provision  # noqa: E402
from ci_tools.results import store  # noqa: E402
from ci_tools.results.model import Result  # noqa: E402

COMPARED = ("getpid", "read_null", "write_null", "pipe", "stat")  # identical under -icount


# A repository whose one profile boots the reference Linux guest (seconds a boot under
# TCG): a gate where the boots, not the builds, are the time.
LINUX_PROFILE_CONFIG = """schema_version = 1

[kernel]
crate = "."

[profiles.reference]
target = "x86_64-unknown-none"
features = []

[profiles.reference.bench]
guest = "linux"
"""


def linux_profile_repo(data: Path) -> Path:
    """A git repository holding only a config with one Linux-guest profile."""
    repo = data / "linux-profile-repo"
    if not repo.exists():
        repo.mkdir(parents=True)
        git("init", "--quiet", "-b", "main", cwd=repo)
        (repo / "ci_tools.toml").write_text(LINUX_PROFILE_CONFIG)
        # The config names a crate; the Linux guest's bench never builds it.
        (repo / "Cargo.toml").write_text('[package]\nname = "none"\nversion = "0.0.0"\n')
        git("add", "ci_tools.toml", "Cargo.toml", cwd=repo)
        git("-c", "user.name=gate_time", "-c", "user.email=gate_time@invalid", "commit",
            "--quiet", "-m", "one Linux-guest profile", cwd=repo)  # fmt: skip
    return repo


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def bench_pr(
    base: str,
    profiles: list[str],
    jobs: int | None,
    out: Path,
    more: tuple[str, ...] = (),
    repo: Path = REPO,
    head: str | None = None,
) -> float:
    """One whole bench-pr in a fresh checkout of ``head`` (default: ``repo``'s HEAD when the
    script started); its wall time in seconds."""
    head = head or HEAD
    with tempfile.TemporaryDirectory(prefix="gate-time-") as scratch:
        tree = Path(scratch) / "head"
        git("worktree", "add", "--detach", str(tree), head, cwd=repo)
        try:
            argv = [sys.executable, "-m", "ci_tools", "bench-pr", "--base", base,
                    "--head", "HEAD", "--pr", "1", "--output-dir", str(out),
                    "--work-dir", str(Path(scratch) / "work")]  # fmt: skip
            argv += [a for p in profiles for a in ("--profile", p)]
            argv += ["--jobs", str(jobs)] if jobs else []
            argv += more
            start = time.monotonic()
            with (out.parent / f"{out.name}.log").open("w") as log:
                subprocess.run(argv, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
            return time.monotonic() - start
        finally:
            git("worktree", "remove", "--force", str(tree), cwd=repo)


def medians(result: Result) -> dict[str, float]:
    return {name: m for name in result.benchmark_names() if (m := result.median(name))}


def agreement(serial: list[Result], parallel: list[Result]) -> str:
    """How far the parallel run's medians are from the serial run's."""
    same, total, worst_core, worst_other = 0, 0, 0.0, 0.0
    for a, b in zip(serial, parallel, strict=True):
        ma, mb = medians(a), medians(b)
        for name in ma.keys() & mb.keys():
            delta = abs(mb[name] / ma[name] - 1)
            total += 1
            same += ma[name] == mb[name]
            if name in COMPARED:
                worst_core = max(worst_core, delta)
            else:
                worst_other = max(worst_other, delta)
    return (
        f"{same} of {total} medians identical; largest difference "
        f"{worst_core:.2%} ({', '.join(COMPARED)}), {worst_other:.2%} (the others)"
    )


def gate(base: str, profiles: list[str], data: Path, *, with_serial: bool = True) -> None:
    label = f"{len(profiles)} profile(s) ({', '.join(profiles)})"
    runs: dict[str, tuple[float, list[Result]]] = {}
    scenarios: list[tuple[str, int | None]] = [("--jobs 1", 1)] if with_serial else []
    scenarios.append(("default jobs", None))
    for name, jobs in scenarios:
        out = data / f"gate-{len(profiles)}-{'serial' if jobs == 1 else 'parallel'}"
        wall = bench_pr(base, profiles, jobs, out)
        results = []
        for profile in profiles:
            for side in SIDES:
                path = result_path(out, profile, side)
                if path.exists():
                    results.append(store.load(path))
        runs[name] = (wall, results)
        measured = sum(len(r.boots) for r in results)
        sizes = sorted({len(r.boots) for r in results}) or [0]
        boots = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
        print(f"{label}, {name}: {wall / 60:.1f} min, {boots} boots per side, "
              f"{measured} boots, {measured / (wall / 60):.1f} boots/min", flush=True)  # fmt: skip
    if not with_serial:
        return
    (serial_wall, serial), (parallel_wall, parallel) = runs.values()
    print(f"{label}: parallel/serial wall time {parallel_wall / serial_wall:.2f}; "
          f"{agreement(serial, parallel)}", flush=True)  # fmt: skip


def linux(boots: int, data: Path) -> None:
    bzimage = provision.ensure_guest_kernel()
    new = targets.linux_target(None)  # the default: the PVH entry, on pc
    old = run.GuestTarget(name="linux", kernel=bzimage, machine="pc")
    microvm = dataclasses.replace(new, machine="microvm")
    cases = (("pc, bzImage, --jobs 1", old, 1), ("pc, PVH, --jobs 1", new, 1),
             ("pc, PVH, --jobs 2", new, 2), ("microvm, PVH, --jobs 1", microvm, 1))  # fmt: skip
    results: list[Result] = []
    for name, target, jobs in cases:
        options = run.BenchOptions(quick=True, boots=boots, jobs=jobs, accel="tcg",
                                   mode=Mode.DETERMINISTIC,
                                   output=data / f"linux-{len(results)}.json")  # fmt: skip
        start = time.monotonic()
        result = run.run_guest(target, options)
        wall = time.monotonic() - start
        per_boot = sum(b.wall_s for b in result.boots) / len(result.boots)
        results.append(result)
        print(f"linux guest, {name}: {boots} boots in {wall:.1f} s, {boots / (wall / 60):.1f} "
              f"boots/min, {per_boot:.1f} s a boot", flush=True)  # fmt: skip
    print(f"linux guest, PVH against bzImage: {agreement(results[:1], results[1:2])}")
    print(f"linux guest, --jobs 2 against --jobs 1: {agreement(results[1:2], results[2:3])}")
    print(f"linux guest, microvm against pc: {agreement(results[1:2], results[3:])}")


def reuse(base: str, profile: str, data: Path, repo: Path = REPO) -> None:
    """bench-pr of one profile without and with main's stored run of the merge base."""
    head = HEAD if repo == REPO else git("rev-parse", "HEAD", cwd=repo)
    merge_base = git("merge-base", base, head, cwd=repo)
    remote = data / f"history-{profile}.git"
    if not remote.exists():
        git("init", "--quiet", "--bare", str(remote))
        # main's run of the merge base, as history.yml makes and records it
        stored = data / f"stored-{profile}.json"
        with tempfile.TemporaryDirectory(prefix="gate-time-") as scratch:
            tree = Path(scratch) / "main"
            git("worktree", "add", "--detach", str(tree), merge_base, cwd=repo)
            try:
                with (data / f"stored-{profile}.log").open("w") as log:
                    subprocess.run([sys.executable, "-m", "ci_tools", "bench", "profile", profile,
                                    "--mode", "deterministic", "--boots", "24",
                                    "--output", str(stored)],
                                   cwd=tree, stdout=log, stderr=subprocess.STDOUT, check=True,
                                   env={**os.environ, **harness_env()})  # fmt: skip
            finally:
                git("worktree", "remove", "--force", str(tree), cwd=repo)
        subprocess.run([sys.executable, "-m", "ci_tools", "history", "record", str(stored),
                        "--commit", merge_base, "--remote", str(remote), "--repo", str(repo)],
                       check=True, env={**os.environ, **harness_env()})  # fmt: skip
    walls = {}
    for name, more in (("without", ()), ("with", ("--history", str(remote)))):
        out = data / f"reuse-{profile}-{name}"
        walls[name] = bench_pr(base, [profile], None, out, more, repo, head)
        manifest = json.loads((out / "manifest.json").read_text())
        how = manifest["profiles"][0]["base"].get("baseline", "both sides measured")
        boots = {side: len(store.load(result_path(out, profile, side)).boots) for side in SIDES}
        print(f"{profile}, {name} a stored merge base: {walls[name] / 60:.1f} min, boots "
              f"{boots['base']} base / {boots['head']} head; base: {how}", flush=True)  # fmt: skip
    print(f"{profile}: with/without a stored merge base, wall time "
          f"{walls['with'] / walls['without']:.2f}", flush=True)  # fmt: skip


HEAD = git("rev-parse", "HEAD")  # what is measured, whatever is committed meanwhile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="the merge base's branch (default main)")
    parser.add_argument("--profiles", nargs="*", help="default: the config's, then the first")
    parser.add_argument("--skip-gate", action="store_true")
    parser.add_argument("--skip-serial", action="store_true",
                        help="time the gate at the default jobs only")  # fmt: skip
    parser.add_argument("--reuse", choices=("both", "demo", "linux", "none"), default="both",
                        help="bench-pr with and without a stored merge base: a profile of "
                        "this repository, the Linux-guest profile, both or neither")  # fmt: skip
    parser.add_argument("--linux-boots", type=int, default=4, help="0: skip the Linux guest")
    parser.add_argument("--data", type=Path, default=Path(tempfile.mkdtemp(prefix="gate-time-")))
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"this machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"files in {args.data}", flush=True)  # fmt: skip
    if not args.skip_gate:
        every = config_profiles(REPO)
        for profiles in [args.profiles] if args.profiles else [every, every[:1]]:
            gate(args.base, profiles, args.data, with_serial=not args.skip_serial)
    if args.reuse in ("both", "demo"):
        reuse(args.base, (args.profiles or config_profiles(REPO))[0], args.data)
    if args.reuse in ("both", "linux"):
        reuse("main", "reference", args.data, linux_profile_repo(args.data))
    if args.linux_boots:
        linux(args.linux_boots, args.data)
    print(json.dumps({"load_average": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
