"""Boots run N at a time, and shards of a run, with real QEMU guests: the figures are
the ones a serial run gives, nothing outlives the harness, and Ctrl-C keeps what
was measured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ci_tools.compare.inputs import per_boot
from ci_tools.errors import ExitCode
from ci_tools.results import store
from ci_tools.results.model import Result, Setup

from guest import REPO, qemu_processes, run_cli

pytestmark = pytest.mark.integration

EXACT = ("getpid", "read_null", "write_null", "pipe")  # the same instructions every boot


def _setup(result: Result) -> Setup:
    """The setup, but for the QEMU command's VM name and runtime paths (each boot's own)."""
    setup = result.setup
    assert setup.qemu is not None
    return replace(setup, qemu=replace(setup.qemu, command=()))


def _bench(*args: str) -> Result:
    run = run_cli("bench", *args, timeout=900)
    assert run.returncode == ExitCode.OK, run.stderr
    out = Path(args[args.index("-o") + 1])
    return store.load(out)


def test_boots_side_by_side_measure_what_boots_one_by_one_do(tmp_path: Path) -> None:
    common = ("linux", "--quick", "--boots", "2")
    serial = _bench(*common, "--jobs", "1", "-o", str(tmp_path / "serial.json"))
    parallel = _bench(*common, "--jobs", "2", "-o", str(tmp_path / "parallel.json"))
    # The same file apart from timings: boots by index, the same command lines and setup.
    assert [(b.index, b.cmdline) for b in parallel.boots] == [
        (b.index, b.cmdline) for b in serial.boots
    ]
    assert _setup(parallel) == _setup(serial) and parallel.target == serial.target
    assert parallel.setup.qemu is not None and parallel.setup.qemu.machine == "pc"
    for name in serial.benchmark_names():
        a, b = per_boot(serial, name), per_boot(parallel, name)
        assert a is not None and b is not None
        for x, y in zip(a.values, b.values, strict=True):
            if name in EXACT:
                # The ns per iteration the bench reports; the total's last digits can move
                # by a few virtual ns (345.185 against 345.186 ns here).
                assert round(x) == round(y) and abs(y / x - 1) < 1e-4, name
            elif name == "stat":
                assert abs(y / x - 1) < 0.005, name  # identical boots: within 0.2% here
            else:  # fork_exit, open_close, mmap_fault: within their boot-to-boot spread
                assert abs(y / x - 1) < 0.10, name


def _children(pid: int) -> set[int]:
    found = set()
    for qemu in qemu_processes():
        try:
            stat = Path(f"/proc/{qemu}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(qemu)
    return found


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "harness.log"
    with log.open("wb") as stderr:  # the child has its own copy of the descriptor
        harness = subprocess.Popen(
            [sys.executable, "-m", "ci_tools", "bench", "linux", "--quick", *args,
             "-o", str(tmp_path / "r.json")],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr,
            env={**os.environ, "GITHUB_ACTIONS": ""},
        )  # fmt: skip
    return harness, log


def _wait_for(what: str, check: object, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _gone(pids: set[int]) -> bool:
    return not any(Path(f"/proc/{p}").exists() and qemu_processes().get(p) for p in pids)


def test_sigkill_of_the_harness_leaves_no_qemu(tmp_path: Path) -> None:
    harness, _ = _start(tmp_path, "--benchmarks", "getpid", "--boots", "4", "--jobs", "2")
    seen: set[int] = set()

    def two_running() -> bool:
        seen.update(_children(harness.pid))
        return len(seen) >= 2

    try:
        _wait_for("two QEMUs", two_running)
    finally:
        harness.kill()  # SIGKILL: no cleanup code of ours runs
        harness.wait()
    # The kernel kills each QEMU when the harness thread that started it dies.
    _wait_for("the QEMUs to go", lambda: _gone(seen), timeout=30)


def test_ctrl_c_stops_every_boot_and_keeps_the_finished_ones(tmp_path: Path) -> None:
    harness, log = _start(tmp_path, "--benchmarks", "getpid", "--boots", "3", "--jobs", "2")
    seen: set[int] = set()

    def two_done_third_running() -> bool:
        seen.update(_children(harness.pid))
        text = log.read_bytes()
        return b"boot 3/3: booting" in text and text.count(b": complete in") == 2

    try:
        _wait_for("boots 1 and 2 to end and boot 3 to start", two_done_third_running)
        harness.send_signal(signal.SIGINT)
        assert harness.wait(timeout=120) == ExitCode.INTERRUPTED, log.read_text()
    finally:
        harness.kill()
    result = store.load(tmp_path / "r.json")
    assert result.status.kind.value == "interrupted"
    statuses = {b.index: b.status.kind.value for b in result.boots}
    assert statuses[0] == statuses[1] == "complete" and statuses[2] == "interrupted"
    assert sorted(result.samples_by_boot("getpid")) == [0, 1]  # the finished boots' samples
    assert "Samples measured so far are kept in" in log.read_text()
    _wait_for("the QEMUs to go", lambda: _gone(seen), timeout=30)


def test_two_shards_merged_compare_exactly_like_one_unsharded_run(tmp_path: Path) -> None:
    """The demo kernel (its boots repeat exactly): base, an unsharded head, and the
    head's two shards merged; compare prints the same table for both heads."""
    common = ("profile", "balanced", "--quick", "--boots", "4", "--benchmarks", "trap,copy")
    base = tmp_path / "base.json"
    _bench(*common, "-o", str(base))
    whole = _bench(*common, "-o", str(tmp_path / "whole" / "head.json"))
    for i in (1, 2):
        _bench(*common, "--shard", f"{i}/2", "-o", str(tmp_path / f"s{i}.json"))
    merged_path = tmp_path / "merged" / "head.json"
    run = run_cli("merge", str(tmp_path / "s2.json"), str(tmp_path / "s1.json"),
                  "-o", str(merged_path))  # fmt: skip
    assert run.returncode == ExitCode.OK, run.stderr
    merged = store.load(merged_path)
    assert [b.index for b in merged.boots] == [0, 1, 2, 3] and _setup(merged) == _setup(whole)
    tables = []
    for head in (tmp_path / "whole" / "head.json", merged_path):
        compared = run_cli("compare", str(base), str(head), "--plain")
        tables.append((compared.returncode, compared.stdout.replace(str(head.parent), "")))
    assert tables[0] == tables[1]
    assert "trap" in tables[0][1]
