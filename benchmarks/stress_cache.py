#!/usr/bin/env python3
"""Many ci_tools runs at once on one machine: does anything race, leak or lie?

Starts N ``python -m ci_tools bench linux --quick --benchmarks getpid`` runs
at the same instant, mixed (in this order, repeated for N > 8):

  cold         a fresh cache shared by every cold run: they build the bench
               binary, write the initramfs, probe KVM and download the guest
               kernel at the same time (each once, the others waiting);
  warm         a cache already holding all of that (warmed by one run first,
               with the guest kernel copied from your cache when it has one);
  auto-port    cold, with ``--forward 0:22`` (QEMU binds a port the OS picks);
  fixed-port   twice, warm, both with ``--forward P:22`` for one free P: the
               second waits for the first's QEMU instead of failing;
  panic        cold, a bench binary that makes the guest kernel panic
               (tests/faults/fault_init.c): exit 11, its own code;
  killed       warm, SIGKILLed a moment after its QEMU started.

Every run shares one runtime folder (``XDG_RUNTIME_DIR``, a fresh one, so
other people's runs on this machine are neither touched nor counted).  Then
it prints each run's exit code against the one it should have, and whether a
QEMU, a runtime folder or a temporary file was left behind, right after the
storm and again after one more run (the next run sweeps what a SIGKILLed run
could not remove).  Exit 0 when every run ended as it should and nothing was
left.

    nice python benchmarks/stress_cache.py [-n 8] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KINDS = ("cold", "warm", "auto-port", "fixed-port", "fixed-port", "panic", "killed", "cold")
EXPECTED = {"panic": 11, "killed": -signal.SIGKILL}  # every other kind: 0
BENCH = ["bench", "linux", "--quick", "--benchmarks", "getpid"]
# What a run may leave in a cache for good: results of its work and the locks.
TEMPORARY = (".new-", ".partial-", ".build-", ".download-", ".copy-", "kvm-probe-")


@dataclass(kw_only=True)
class Run:
    index: int
    kind: str
    cache: Path
    args: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    wall: float = 0.0

    @property
    def expected(self) -> int:
        return EXPECTED.get(self.kind, 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def one_run(index: int, kind: str, cache: Path, work: Path, args: list[str] | None = None) -> Run:
    args = args or [*BENCH, "-o", str(work / "results" / f"{index}-{kind}.json")]
    return Run(index=index, kind=kind, cache=cache, args=args,
               log=work / "logs" / f"{index}-{kind}.log")  # fmt: skip


def run_alone(run: Run, runtime: Path) -> int:
    start(run, runtime)
    assert run.process is not None
    return run.process.wait(timeout=900)


def plan(n: int, work: Path, warm: Path, fault_init: Path) -> list[Run]:
    port = free_port()
    runs = []
    for index in range(n):
        kind = KINDS[index % len(KINDS)]
        cold = kind in ("cold", "auto-port", "panic")
        args = [*BENCH, "-o", str(work / "results" / f"{index}-{kind}.json")]
        if kind == "auto-port":
            args += ["--forward", "0:22"]
        elif kind == "fixed-port":  # warm, so that both boot at once and meet at the port
            args += ["--forward", f"{port}:22"]
        elif kind == "panic":
            args += ["--binary", str(fault_init), "--cmdline",
                     "console=ttyS0 quiet panic=-1 fault=exit"]  # fmt: skip
        cache = work / "cold-cache" if cold else warm
        runs.append(one_run(index, kind, cache, work, args))
    return runs


def start(run: Run, runtime: Path) -> None:
    env = {**os.environ, "CI_TOOLS_CACHE": str(run.cache), "XDG_RUNTIME_DIR": str(runtime),
           "GITHUB_ACTIONS": ""}  # fmt: skip
    run.log.parent.mkdir(parents=True, exist_ok=True)
    with run.log.open("wb") as log:
        run.process = subprocess.Popen(
            [sys.executable, "-m", "ci_tools", *run.args], cwd=REPO, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    run.started = time.monotonic()


def kill_mid_boot(run: Run, deadline: float) -> None:
    """SIGKILL the harness two seconds after it said its QEMU is booting."""
    assert run.process is not None
    while time.monotonic() < deadline and run.process.poll() is None:
        if "booting" in run.log.read_text(errors="replace"):
            time.sleep(2.0)
            run.process.send_signal(signal.SIGKILL)
            return
        time.sleep(0.2)


def why(run: Run) -> str:
    """The run's last error line, or how it ended."""
    lines = run.log.read_text(errors="replace").splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    if errors:
        return errors[-1][len("error: ") :][:110]
    if run.process is not None and run.process.returncode == -signal.SIGKILL:
        return "SIGKILLed by this script mid-boot"
    done = [line for line in lines if "complete in" in line]
    return done[-1].split("] ", 1)[-1] if done else (lines[-1] if lines else "")


def qemu_left(runtime: Path) -> list[str]:
    """QEMU processes whose QMP socket or pidfile is under ``runtime``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if argv and "qemu-system" in argv[0] and any(str(runtime) in a for a in argv):
            found.append(f"pid {entry.name}")
    return found


def files_left(runtime: Path, caches: list[Path]) -> list[str]:
    left = [str(p) for p in runtime.glob("ci_tools-*/ci_tools-*")]
    left += [str(p) for p in runtime.glob("ci_tools-*/.new-*")]
    for cache in caches:
        if not cache.is_dir():
            continue
        for path in cache.rglob("*"):
            if path.name.startswith(TEMPORARY) or path.name.endswith(".tmp"):
                left.append(str(path))
    return left


def report_leftovers(title: str, runtime: Path, caches: list[Path]) -> bool:
    qemu, files = qemu_left(runtime), files_left(runtime, caches)
    print(f"{title}: {len(qemu)} QEMU process(es), {len(files)} runtime folder(s) or "
          f"temporary file(s)")  # fmt: skip
    for item in qemu + files:
        print(f"  left: {item}")
    return not qemu and not files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=8, help="runs started at once (default 8)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    from ci_tools.util.paths import cache_dir

    work = Path(tempfile.mkdtemp(prefix="stress-cache-"))
    runtime = work / "runtime"
    runtime.mkdir()
    warm = work / "warm-cache"
    if (cache_dir() / "kernels").is_dir():  # spare a second download of the guest kernel
        shutil.copytree(
            cache_dir() / "kernels", warm / "kernels", ignore=shutil.ignore_patterns(".*")
        )
    warming = one_run(-1, "warm-up", warm, work)
    if run_alone(warming, runtime) != 0:
        print(f"the warm-up run failed:\n{warming.log.read_text()}")
        return 1
    fault_init = work / "fault_init"
    subprocess.run(["musl-gcc", "-static", "-O2", "-o", str(fault_init),
                    str(REPO / "tests" / "faults" / "fault_init.c")], check=True)  # fmt: skip
    runs = plan(args.n, work, warm, fault_init)
    print(f"{len(runs)} runs at once; cold cache {work / 'cold-cache'} (fresh), warm cache "
          f"{warm}, runtime {runtime}")  # fmt: skip
    began = time.monotonic()
    for run in runs:
        start(run, runtime)
    for run in runs:
        if run.kind == "killed":
            kill_mid_boot(run, began + 300)
    running = list(runs)
    while running:
        for run in list(running):
            assert run.process is not None
            if run.process.poll() is None and time.monotonic() - began > 900:
                run.process.kill()
            if run.process.poll() is not None:
                run.wall = time.monotonic() - run.started
                running.remove(run)
        time.sleep(0.2)

    print(f"\nall ended after {time.monotonic() - began:.0f} s\n")
    print(f"{'run':>3}  {'kind':<10}  {'cache':<5}  {'exit':>4}  {'expected':>8}  "
          f"{'wall s':>6}  how it ended")  # fmt: skip
    as_expected = 0
    for run in runs:
        assert run.process is not None
        code = run.process.returncode
        ok = code == run.expected
        as_expected += ok
        cache = "cold" if run.cache != warm else "warm"
        print(f"{run.index:>3}  {run.kind:<10}  {cache:<5}  {code:>4}  {run.expected:>8}  "
              f"{run.wall:>6.1f}  {'' if ok else 'UNEXPECTED: '}{why(run)}")  # fmt: skip
    should_succeed = [r for r in runs if r.expected == 0]
    succeeded = [r for r in should_succeed if r.process and r.process.returncode == 0]
    failed = [r for r in runs if r.process and r.process.returncode not in (0, -signal.SIGKILL)]
    print(f"\ncompleted correctly: {len(succeeded)} of {len(should_succeed)} that should; "
          f"failed: {len(failed)} ("
          + ", ".join(f"{r.kind} exit {r.process.returncode}" for r in failed if r.process)
          + f"); as expected: {as_expected} of {len(runs)}")  # fmt: skip
    for run in runs:
        lines = run.log.read_text(errors="replace").splitlines()
        for line in dict.fromkeys(ln for ln in lines if "waiting " in ln):
            print(f"run {run.index} ({run.kind}) waited: {line[:120]}")

    caches = [work / "cold-cache", warm]
    clean = report_leftovers("\nleft behind right after the storm", runtime, caches)
    if not clean:
        # What a SIGKILLed run could not remove, the next run's sweep does.
        code = run_alone(one_run(len(runs), "next", warm, work), runtime)
        print(f"one more run (exit {code}), whose sweep removes them")
        clean = report_leftovers("left behind after it", runtime, caches)
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if as_expected == len(runs) and clean else 1


if __name__ == "__main__":
    sys.exit(main())
