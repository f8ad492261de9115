"""bench profile <name>: which kernel boots, with which command line and machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools import config
from ci_tools.bench import run, targets
from ci_tools.boot.protocol import parse
from ci_tools.errors import BadInputError

from conftest import write_config


def test_profile_guest_for_its_own_kernel(tmp_path: Path) -> None:
    """guest = "kernel": the image, the profile's machine and its (empty) command line."""
    image = tmp_path / "kevlar.x64.img"
    image.write_bytes(b"kernel")
    path = write_config(
        tmp_path,
        '[profiles.fortress]\ntarget = "t"\nfeatures = []\n'
        '[profiles.fortress.bench]\nguest = "kernel"\nimage = "kevlar.x64.img"\n'
        'cmdline = ""\ncmdline_extra = "log=warn"\nmachine = "q35"\n',
    )
    target = targets.guest_target(config.load(path), "fortress")
    assert (target.name, target.profile, target.kernel) == ("fortress", "fortress", image)
    assert (target.cmdline, target.machine) == ("log=warn", "q35")


def test_profile_guest_on_linux_appends_the_safety_setting(
    tmp_path: Path, isolated_cache: Path
) -> None:
    vmlinuz = tmp_path / "vmlinuz"
    vmlinuz.write_bytes(b"linux")
    path = write_config(
        tmp_path,
        f'[linux]\nkernel = "{vmlinuz}"\n[bench]\nguest = "linux"\n'
        '[profiles.ludicrous]\ntarget = "t"\nfeatures = []\n'
        'bench = { cmdline_extra = "mitigations=off" }\n',
    )
    target = targets.guest_target(config.load(path), "ludicrous")
    # Not a bzImage with a PVH kernel inside: booted as it is, on the Linux guest's machine.
    assert target.kernel == vmlinuz and target.machine == targets.LINUX_MACHINE == "pc"
    assert target.image is None
    assert target.cmdline == f"{run.DEFAULT_CMDLINE} mitigations=off"
    override = targets.guest_target(
        config.load(path), "ludicrous", targets.Overrides(cmdline="console=ttyS0")
    )
    assert override.cmdline == "console=ttyS0 mitigations=off"


def test_how_the_kernel_boots_comes_from_the_config(tmp_path: Path) -> None:
    """cpu, memory, QEMU arguments, the exit device, the bench suite and the args route."""
    image = tmp_path / "kernel.elf"
    image.write_bytes(b"kernel")
    path = write_config(
        tmp_path,
        '[bench]\nguest = "kernel"\nimage = "kernel.elf"\ncpu = "Haswell"\nmemory = 96\n'
        'qemu_args = ["-device", "virtio-rng-pci"]\nsuite = "kernel"\nargs = "cmdline"\n'
        "exit_device = { iobase = 0xf4, success = 33 }\n"
        '[profiles.fortress]\ntarget = "t"\nfeatures = []\n',
    )
    loaded = config.load(path)
    target = targets.guest_target(loaded, "fortress")
    assert (target.cpu, target.memory_mb) == ("Haswell", 96)
    assert target.extra_qemu_args == ("-device", "virtio-rng-pci")
    assert (target.suite, target.args) == ("kernel", "cmdline")
    assert target.exit_device == config.ExitDevice(iobase=0xF4, iosize=4, success=33)
    assert target.exit_device.qemu_args() == ("-device", "isa-debug-exit,iobase=0xf4,iosize=0x4")
    # The command line wins over the config.
    cli = targets.guest_target(loaded, "fortress", targets.Overrides(cpu="max", memory_mb=256))
    assert (cli.cpu, cli.memory_mb) == ("max", 256)


def test_multiboot_elf64_boots_a_copy_that_says_i386(tmp_path: Path, isolated_cache: Path) -> None:
    elf64 = bytearray(64)
    elf64[:6], elf64[18:20] = b"\x7fELF\x02\x01", (62).to_bytes(2, "little")  # x86-64, LE
    image = tmp_path / "kevlar.elf"
    image.write_bytes(bytes(elf64))
    copy = targets.multiboot_copy(image)
    data = copy.read_bytes()
    assert int.from_bytes(data[18:20], "little") == targets.EM_386
    assert data[:18] == bytes(elf64[:18]) and data[20:] == bytes(elf64[20:])
    assert image.read_bytes() == bytes(elf64)  # the built image is left as it is
    assert targets.multiboot_copy(image) == copy  # cached by content
    not_it = {
        "bzImage": b"MZ" + bytes(62),
        "truncated.elf": b"\x7fELF",  # no IndexError, no traceback
        "aarch64.elf": bytes(elf64[:18]) + (183).to_bytes(2, "little") + bytes(elf64[20:]),
    }
    for name, data in not_it.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BadInputError, match="not an x86-64 ELF"):
            targets.multiboot_copy(tmp_path / name)


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ("after-dashes", "console=ttyS0 ci_tools.pad=x -- --quick --rounds 2 trap"),
        ("cmdline", "console=ttyS0 ci_tools.pad=x --quick --rounds 2 trap"),
        ("none", "console=ttyS0 ci_tools.pad=x"),
    ],
)
def test_bench_arguments_reach_the_bench_the_way_the_config_says(
    route: config.ArgsRoute, expected: str
) -> None:
    args = ["--quick", "--rounds", "2", "trap"]
    assert run.boot_cmdline("console=ttyS0", 1, args, route) == expected
    assert run.boot_cmdline("", 0, [], route) == ""


def test_options_a_bench_without_arguments_cannot_take_are_refused() -> None:
    run.refuse_unpassable("kevlar", "none", run.BenchOptions())  # nothing asked: fine
    run.refuse_unpassable("demo", "cmdline", run.BenchOptions(rounds=2))  # it reads them
    with pytest.raises(BadInputError) as caught:
        run.refuse_unpassable("kevlar", "none", run.BenchOptions(rounds=2, benchmarks=("getpid",)))
    assert "--rounds, --benchmarks cannot reach this kernel's bench" in caught.value.message
    with pytest.raises(BadInputError, match="--binary has no effect"):
        run.refuse_unpassable("demo", "cmdline", run.BenchOptions(binary=Path("b")), "kernel")
    run.refuse_unpassable("linux", "after-dashes", run.BenchOptions(binary=Path("b")))


KEVLAR_DEFAULTS = [
    "BENCH_START kevlar", "BENCH_MODE full",
    "BENCH getpid 10000 1967955 196", "BENCH pread 10000 2000000 200", "BENCH_END",
]  # fmt: skip


def test_a_run_that_ignored_its_arguments_is_not_recorded_as_asked() -> None:
    """Kevlar's INIT_SCRIPT bench ran its defaults: one round of everything, full mode."""
    asked = run.BenchOptions(rounds=2, benchmarks=("getpid",))
    said = run.not_as_asked(parse(KEVLAR_DEFAULTS), asked, quick=True)
    assert said is not None
    assert "full mode, not quick" in said and "1 round(s), not 2" in said
    assert "benchmarks getpid, pread, not getpid" in said
    honoured = [
        "BENCH_START k", "BENCH_MODE quick", "BENCH_ROUND 1", "BENCH getpid 10 20 2",
        "BENCH_ROUND 2", "BENCH getpid 10 20 2", "BENCH_END",
    ]  # fmt: skip
    assert run.not_as_asked(parse(honoured), asked, quick=True) is None
    # Every benchmark of the last round skipped: still two rounds.
    skipped = [*honoured[:5], "BENCH_ROUND 2", "BENCH_SKIP getpid (no fork)", "BENCH_END"]
    assert run.not_as_asked(parse(skipped), asked, quick=True) is None
    # Nothing ran at all: never a complete run.
    empty = ["BENCH_START kevlar", "BENCH_END"]
    said = run.not_as_asked(parse(empty), run.BenchOptions(), quick=True)
    assert said is not None and "ran no benchmark at all" in said


def test_the_reference_guest_runs_the_configured_bench(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[linux]\nbinary = "build/bench"\n[profiles.a]\ntarget = "t"\nfeatures = []\n',
    )
    loaded = config.load(path)
    assert targets.linux_options(loaded, run.BenchOptions()).binary == tmp_path / "build/bench"
    given = run.BenchOptions(binary=Path("/other"))
    assert targets.linux_options(loaded, given).binary == Path("/other")  # --binary wins
    assert targets.linux_options(None, run.BenchOptions()).binary is None


def test_progress_never_counts_past_its_total(capsys: pytest.CaptureFixture[str]) -> None:
    """Kevlar's bench without a plan: 24 benchmarks, not ci_tools' 8."""
    progress = run._Progress("kevlar", run.BenchOptions(), core_suite=False)
    for i in range(3):
        progress(f"BENCH b{i} 10 20 2")
    ours = run._Progress("linux", run.BenchOptions())
    for i in range(9):
        ours(f"BENCH b{i} 10 20 2")
    err = capsys.readouterr().err
    assert "b2 done (3)" in err and "of 0" not in err
    assert "b7 done (8 of 8)" in err and "b8 done (9)" in err


def test_kvm_is_probed_with_the_linux_kernel_not_the_kernel_under_test(tmp_path: Path) -> None:
    """The probe knows a working KVM boot by Linux's banner, which the demo kernel never
    prints: judged by its own boot, a working KVM would be called unusable."""
    (tmp_path / "kernel.elf").write_bytes(b"kernel")
    (tmp_path / "vmlinuz").write_bytes(b"linux")
    path = write_config(
        tmp_path,
        '[linux]\nkernel = "vmlinuz"\n[bench]\nguest = "kernel"\nimage = "kernel.elf"\n'
        '[profiles.a]\ntarget = "t"\nfeatures = []\n',
    )
    target = targets.guest_target(config.load(path), "a")
    assert target.kernel == tmp_path / "kernel.elf"
    assert target.kvm_probe_kernel == tmp_path / "vmlinuz"
