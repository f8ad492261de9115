"""End to end: bench.c built with musl-gcc, booted in a real Linux guest under QEMU."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.bench.run import CORE_BENCHMARKS
from ci_tools.host import provision
from ci_tools.results import store

from guest import REPO, build_c, qemu_processes, run_cli, vm_name

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", autouse=True)
def guest_kernel() -> Path:
    return provision.ensure_guest_kernel()


def test_linux_guest_quick_two_rounds(tmp_path: Path) -> None:
    out = tmp_path / "linux.json"
    run = run_cli("bench", "linux", "--quick", "--rounds", "2", "-o", str(out))
    assert run.returncode == 0, run.stderr
    result = store.load(out)  # validates against the schema again
    assert result.status.complete
    assert result.benchmark_names() == list(CORE_BENCHMARKS)
    for name in CORE_BENCHMARKS:
        samples = result.data["benchmarks"][name]["samples"]
        assert [s["round"] for s in samples] == [1, 2]
        assert all(s["per_iter_ns"] > 0 for s in samples)
    assert result.data["extras"]["pipe_throughput_MBps"][0]["value"] > 0
    setup_ = result.data["setup"]
    assert setup_["accelerator"] in ("kvm", "tcg") and setup_["accelerator_reason"]
    assert setup_["quick"] is True and setup_["qemu"]["version"]
    if setup_["accelerator"] == "tcg":
        assert setup_["mode"] == "deterministic"
        assert "-icount" in setup_["qemu"]["command"]
    log = tmp_path / result.data["boots"][0]["console_log"]
    assert "BENCH_END" in log.read_text(errors="replace")
    # The terminal gets the table and the path of the JSON.
    assert "getpid" in run.stdout and str(out) in run.stdout
    assert "stat done (16 of 16)" in run.stderr  # progress: 8 benchmarks x 2 rounds
    assert not qemu_processes(vm_name(setup_["qemu"]["command"]))


def test_another_protocol_speaking_binary(tmp_path: Path) -> None:
    binary = build_c(REPO / "tests" / "faults" / "kevlar_like.c", tmp_path)
    out = tmp_path / "kevlar-like.json"
    run = run_cli("bench", "linux", "--quick", "--binary", str(binary), "-o", str(out))
    assert run.returncode == 0, run.stderr
    result = store.load(out)
    assert result.data["target"]["bench_binary"]["suite"] == "kevlar"
    assert result.benchmark_names() == ["getpid"]
    assert result.skipped() == {"fork_exit": "(not implemented in this kernel)"}


def test_host_run(tmp_path: Path) -> None:
    out = tmp_path / "host.json"
    run = run_cli("bench", "host", "--quick", "--benchmarks", "getpid,pipe", "-o", str(out))
    assert run.returncode == 0, run.stderr
    result = store.load(out)
    assert result.benchmark_names() == ["getpid", "pipe"]
    assert result.setup.accelerator == "none" and result.setup.qemu is None


def test_unchanged_source_is_not_rebuilt(tmp_path: Path, isolated_cache: Path) -> None:
    from ci_tools.build.benchbin import build_bench

    first = build_bench()
    mtime = first.stat().st_mtime_ns
    assert build_bench() == first and first.stat().st_mtime_ns == mtime
    changed = tmp_path / "bench.c"
    changed.write_text((REPO / "benchmarks" / "bench.c").read_text() + "\n/* changed */\n")
    assert build_bench(changed) != first


def test_more_boots_of_a_run_take_new_layouts_and_join(tmp_path: Path) -> None:
    """What bench-pr does at a later look: boots from --first-boot on, joined to the run."""
    from ci_tools.bench.run import PAD_ARGUMENT
    from ci_tools.results import merge

    first, more = tmp_path / "first.json", tmp_path / "more.json"
    for out, extra in ((first, []), (more, ["--first-boot", "1"])):
        run = run_cli("bench", "linux", "--quick", "--benchmarks", "getpid", "--boots", "1",
                      *extra, "-o", str(out))  # fmt: skip
        assert run.returncode == 0, run.stderr
    later = store.load(more)
    assert [b.index for b in later.boots] == [1]
    assert f"{PAD_ARGUMENT}=x " in (later.boots[0].cmdline or "")  # boot 1's layout, not boot 0's
    assert "boot 2/2" in run.stderr
    joined = merge.merge([store.load(first), later], tmp_path / "joined.json").data
    assert [b["index"] for b in joined["boots"]] == [0, 1]
    assert sorted(s["boot"] for s in joined["benchmarks"]["getpid"]["samples"]) == [0, 1]


def test_one_boot_measured_twice_repeats_its_figures(tmp_path: Path) -> None:
    """The same boot (kernel, initramfs, padding) twice: under -icount, with the bench's
    address space fixed, fork_exit and mmap_fault come out the same.  With the placement
    randomised (seeded by when the guest started), fork_exit fell into a mode 5-6 %
    slower now and then: a reused baseline's checking boot could not have told."""
    figures = []
    for attempt in range(2):
        out = tmp_path / f"again{attempt}.json"
        run = run_cli("bench", "linux", "--quick", "--accel", "tcg", "--benchmarks",
                      "fork_exit,mmap_fault", "-o", str(out))  # fmt: skip
        assert run.returncode == 0, run.stderr
        result = store.load(out)
        figures.append({name: result.median(name) for name in ("fork_exit", "mmap_fault")})
    first, second = figures
    for name in first:
        assert first[name] and second[name]
        assert abs(second[name] / first[name] - 1) < 0.01, (name, first[name], second[name])
