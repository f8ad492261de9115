"""The QEMU command line a boot is given: every setting of the config reaches it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.boot.qemu import ICOUNT_ARGS, GuestSpec, Mode, build_command
from ci_tools.config import ExitDevice
from ci_tools.errors import BadInputError


def _command(**settings: object) -> list[str]:
    spec = GuestSpec(
        kernel=Path("/k/vmlinux"), initrd=None, cmdline="console=ttyS0 -- --quick",
        accel="tcg", mode=Mode.DETERMINISTIC, **settings,  # type: ignore[arg-type]
    )  # fmt: skip
    return build_command(
        spec, binary="qemu-system-x86_64", name="ci_tools-t", pidfile=Path("/r/pid"),
        qmp_socket=Path("/r/qmp"),
    )  # fmt: skip


def _after(argv: list[str], option: str) -> list[str]:
    """Every value given to ``option``, in order."""
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == option]


def test_the_configured_machine_cpu_memory_and_arguments_reach_qemu() -> None:
    argv = _command(
        machine="q35", cpu="Skylake-Client-v4", memory_mb=1536, smp=2,
        extra_args=("-device", "virtio-rng-pci", "-global", "kvm-pit.lost_tick_policy=discard"),
        exit_device=ExitDevice(iobase=0xF4, iosize=4, success=1),
    )  # fmt: skip
    assert _after(argv, "-machine") == ["q35"] and _after(argv, "-cpu") == ["Skylake-Client-v4"]
    assert _after(argv, "-m") == ["1536"] and _after(argv, "-smp") == ["2"]
    assert _after(argv, "-kernel") == ["/k/vmlinux"] and "-initrd" not in argv
    assert _after(argv, "-append") == ["console=ttyS0 -- --quick"]
    assert _after(argv, "-device") == [
        "pvpanic", "isa-debug-exit,iobase=0xf4,iosize=0x4", "virtio-rng-pci",
    ]  # fmt: skip
    # the config's own arguments come last, so they can override ours
    assert argv[-4:] == ["-device", "virtio-rng-pci", "-global", "kvm-pit.lost_tick_policy=discard"]
    assert list(ICOUNT_ARGS) == argv[argv.index("-icount") : argv.index("-icount") + 2]


def test_defaults_are_a_plain_pc_with_the_tcg_cpu() -> None:
    argv = _command()
    assert _after(argv, "-cpu") == ["qemu64"] and _after(argv, "-machine") == ["pc"]
    assert _after(argv, "-m") == ["512"] and _after(argv, "-smp") == ["1"]


def test_microvm_gets_no_pvpanic_and_wallclock_no_icount() -> None:
    argv = _command(machine="microvm")
    assert "pvpanic" not in argv
    spec = GuestSpec(kernel=Path("/k"), initrd=Path("/i"), cmdline="", accel="kvm",
                     mode=Mode.WALLCLOCK)  # fmt: skip
    argv = build_command(spec, binary="q", name="n", pidfile=Path("p"), qmp_socket=Path("s"))
    assert "-icount" not in argv and _after(argv, "-cpu") == ["host"]
    assert _after(argv, "-initrd") == ["/i"] and _after(argv, "-accel") == ["kvm"]


def test_deterministic_mode_under_kvm_is_refused() -> None:
    spec = GuestSpec(kernel=Path("/k"), initrd=None, cmdline="", accel="kvm",
                     mode=Mode.DETERMINISTIC)  # fmt: skip
    with pytest.raises(BadInputError, match="deterministic mode needs QEMU's TCG"):
        build_command(spec, binary="q", name="n", pidfile=Path("p"), qmp_socket=Path("s"))
