"""The demo kernel (examples/kernel) built and booted per profile, as bench-<profile>
runs it: its own benchmarks, its arguments from the command line, isa-debug-exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.errors import ExitCode
from ci_tools.results import store
from ci_tools.results.model import Result

from guest import run_cli

pytestmark = pytest.mark.integration


def _bench(profile: str, out: Path, *args: str) -> Result:
    run = run_cli("bench", "profile", profile, "--quick", "-o", str(out), *args)
    assert run.returncode == ExitCode.OK, run.stderr
    return store.load(out)


def test_rounds_and_one_benchmark_reach_the_kernel(tmp_path: Path) -> None:
    result = _bench("ludicrous", tmp_path / "one.json", "--rounds", "2", "--benchmarks", "trap")
    assert result.benchmark_names() == ["trap"]
    assert sorted(s["round"] for s in result.data["benchmarks"]["trap"]["samples"]) == [1, 2]
    assert result.setup.rounds == 2 and result.setup.quick
    assert result.status.complete
    # The bench that ran is the one built into the image; no initramfs was booted.
    assert result.target.bench_binary == result.target.kernel
    assert result.target.initramfs_sha256 is None and result.target.suite == "demo-kernel"
    command = result.setup.qemu.command if result.setup.qemu else ()
    assert "-initrd" not in command and "isa-debug-exit,iobase=0xf4,iosize=0x4" in command


def test_the_profiles_safety_has_a_price_the_kernel_shows(tmp_path: Path) -> None:
    """fortress zeroes and poisons heap blocks, checks overflow and bounds; ludicrous
    does none of it: deterministic virtual time makes one boot each enough."""
    names = "alloc_free,overflow_math,copy"
    safe = _bench("fortress", tmp_path / "f.json", "--benchmarks", names)
    fast = _bench("ludicrous", tmp_path / "l.json", "--benchmarks", names)
    for name in names.split(","):
        (checked,), (unchecked,) = safe.samples(name), fast.samples(name)
        assert checked > 1.5 * unchecked, f"{name}: fortress {checked} vs ludicrous {unchecked}"


def test_options_the_bench_cannot_take_are_refused_before_building(tmp_path: Path) -> None:
    config = tmp_path / "ci_tools.toml"
    text = (Path(__file__).resolve().parents[2] / "ci_tools.toml").read_text()
    kernel = Path(__file__).resolve().parents[2] / "examples" / "kernel"
    config.write_text(
        text.replace('crate = "examples/kernel"', f'crate = "{kernel}"').replace(
            'args = "cmdline"', 'args = "none"'
        )
    )
    run = run_cli("bench", "profile", "fortress", "--config", str(config), "--rounds", "2")
    assert run.returncode == ExitCode.BAD_INPUT, run.stderr
    assert "--rounds cannot reach this kernel's bench" in run.stderr
    assert "cargo build" not in run.stderr


def test_arguments_baked_into_the_kernels_init_at_build_time(tmp_path: Path) -> None:
    """args = "build": INIT_SCRIPT = "/bin/bench {bench_args}", as a kernel whose init
    runs `sh -c "$INIT_SCRIPT"` needs; nothing on the command line, and the run did
    exactly what was asked."""
    repo = Path(__file__).resolve().parents[2]
    text = (repo / "ci_tools.toml").read_text()
    text = text.replace('crate = "examples/kernel"', f'crate = "{repo / "examples" / "kernel"}"')
    text = text.replace(
        'env = { INIT_SCRIPT = "/bin/bench" }', 'env = { INIT_SCRIPT = "/bin/bench {bench_args}" }'
    )
    text = text.replace('args = "cmdline"', 'args = "build"')
    config = tmp_path / "ci_tools.toml"
    config.write_text(text)
    out = tmp_path / "built.json"
    run = run_cli(
        "bench", "profile", "performance", "--config", str(config), "--quick",
        "--rounds", "2", "--benchmarks", "copy", "-o", str(out),
    )  # fmt: skip
    assert run.returncode == ExitCode.OK, run.stderr
    result = store.load(out)
    assert result.benchmark_names() == ["copy"] and result.setup.rounds == 2
    assert result.target.cmdline == ""  # the arguments were in the image, not on the line
    assert "INIT_SCRIPT='/bin/bench --quick --rounds 2 copy'" in run.stderr
