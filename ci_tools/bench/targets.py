"""``bench profile <name>``: benchmark one profile of the config.

A profile's bench table says which kernel boots:

- ``guest = "linux"``: the reference Linux guest, with the profile's safety
  setting appended to the command line (``cmdline_extra``).
- ``guest = "kernel"``: the profile's own kernel image, built first (with
  the stale-kernel checks of ``build.kernel``) when the table has a
  ``build``, and booted as the table says (``boot``, ``cpu``, ``memory``,
  ``exit_device``).  With ``suite = "ci_tools"`` it gets ci_tools' bench
  initramfs; with ``suite = "kernel"`` its own built-in bench runs (the demo
  kernel, Kevlar's ``INIT_SCRIPT=/bin/bench``).  ``args`` says how the bench
  arguments reach that bench: after ``--``, on the command line, baked into
  the build (``{bench_args}``), or not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from ci_tools import output
from ci_tools.bench.run import (
    BenchOptions,
    GuestTarget,
    bench_arguments,
    choose_accelerator,
    refuse_unpassable,
    run_guest,
)
from ci_tools.boot.ports import Forward
from ci_tools.build import linux_guest, pvh
from ci_tools.build.kernel import build_image
from ci_tools.config import DEFAULT_CMDLINE, BenchSpec, Config, LinuxGuest, Profile
from ci_tools.errors import BadInputError, SetupError
from ci_tools.host import provision
from ci_tools.results.model import Result
from ci_tools.util import packages
from ci_tools.util.files import write_atomic
from ci_tools.util.paths import cache_dir


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """What the command line may change for one run."""

    kernel: Path | None = None
    cmdline: str | None = None
    memory_mb: int | None = None  # None: the profile's, else DEFAULT_MEMORY_MB
    cpu: str | None = None
    forwards: tuple[Forward, ...] = ()
    machine: str | None = None  # QEMU -machine; None: the profile's, else the default


DEFAULT_MEMORY_MB = 512
# The reference Linux guest's machine.  microvm boots the same kernel 7% faster under
# -icount, but without -icount (wall-clock mode, TCG) it printed nothing for 90 s here,
# and it has no pvpanic device: pc it is (README, "What the gate costs").
LINUX_MACHINE = "pc"
ELF_MAGIC = b"\x7fELF"
EM_386 = 3
EM_X86_64 = 62


def multiboot_copy(image: Path) -> Path:
    """A copy of a 64-bit multiboot ELF that QEMU will boot: QEMU's multiboot loader
    refuses an x86-64 ELF, so the copy's e_machine says i386 (what Kevlar's runner
    does; the 32-bit entry code is the same bytes).  Cached by the image's hash."""
    data = bytearray(image.read_bytes())
    x86_64 = (
        len(data) >= 64
        and data[:4] == ELF_MAGIC
        and data[4] == 2  # ELFCLASS64
        and data[5] == 1  # little-endian
        and int.from_bytes(data[18:20], "little") == EM_X86_64
    )
    if not x86_64:
        raise BadInputError(
            f'{image} is not an x86-64 ELF file, so boot = "multiboot-elf64" does not apply',
            hint='use boot = "kernel" for a bzImage, a PVH ELF or a 32-bit multiboot ELF',
        )
    data[18:20] = EM_386.to_bytes(2, "little")
    digest = hashlib.sha256(data).hexdigest()[:20]
    copy = cache_dir("images") / f"{image.stem}-{digest}.elf32-machine"
    if not copy.is_file():
        write_atomic(copy, bytes(data))
    return copy


def _first(*values: str | None) -> str:
    """The first value that is set; an empty command line is a setting too."""
    return next(v for v in values if v is not None)


def join_cmdline(*parts: str | None) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def bench_spec(config: Config, profile: Profile) -> BenchSpec:
    if profile.bench is None:
        raise BadInputError(
            f"{config.path}: profile {profile.name!r} has no bench table: nothing to boot",
            hint=f'add [profiles.{profile.name}.bench] (or [bench]) with guest = "linux" '
            'and cmdline_extra, or guest = "kernel" with build and image',
        )
    return profile.bench


def _linux_kernel(linux: LinuxGuest, override: Path | None) -> Path:
    if override is not None or linux.kernel is not None:
        return linux_guest.find_linux_kernel(override or linux.kernel)
    return provision.ensure_guest_kernel()


@dataclass(frozen=True, kw_only=True)
class LinuxBoot:
    """How the reference Linux guest boots: the file QEMU loads, the image the result
    records when that is a copy (None: the same file), the machine."""

    kernel: Path
    image: Path | None
    machine: str


def linux_boot(kernel: Path, machine: str | None) -> LinuxBoot:
    """The fastest boot that measures the same: the bzImage's kernel uncompressed,
    through its PVH entry (when it has one), on ``LINUX_MACHINE`` unless a machine is
    given."""
    machine = machine or LINUX_MACHINE
    vmlinux = pvh.pvh_kernel(kernel)
    if vmlinux is None:
        output.info(f"{kernel.name} has no PVH entry ci_tools can use: booting it as it is")
        return LinuxBoot(kernel=kernel, image=None, machine=machine)
    return LinuxBoot(kernel=vmlinux, image=kernel, machine=machine)


def _profile_kernel(
    config: Config, profile: Profile, spec: BenchSpec, override: Path | None, bench_args: str
) -> Path:
    if override is not None:
        return override
    if spec.build is not None:
        return build_image(config, profile, bench_args=bench_args)
    assert spec.image is not None  # the config's validation guarantees it
    if not spec.image.is_file():
        raise SetupError(
            f"kernel image {spec.image} of profile {profile.name!r} does not exist",
            hint=f"build it first, or give [profiles.{profile.name}.bench] a build command",
        )
    return spec.image


def _kvm_probe_kernel(config: Config) -> Path | None:
    """The reference Linux kernel, for the KVM test boot of a kernel that is not Linux
    (the probe knows a working boot by Linux's banner); None when there is none here,
    and then a KVM that does work may be judged unusable (TCG is used, and says why)."""
    try:
        return linux_guest.find_linux_kernel(config.linux.kernel)
    except SetupError:
        return None


def guest_target(
    config: Config, name: str, overrides: Overrides = Overrides(), *, bench_args: str = ""
) -> GuestTarget:
    """The QEMU guest that benchmarks profile ``name`` (builds its kernel if it has to,
    with ``bench_args`` in its init when the profile's args = "build")."""
    profile = config.profile(name)
    spec = bench_spec(config, profile)
    built: Path | None = None  # what the result records, when QEMU boots a copy
    if spec.guest == "linux":
        # As bench-linux boots it, so the two stay comparable.
        linux = linux_boot(
            _linux_kernel(config.linux, overrides.kernel),
            overrides.machine or spec.machine,
        )  # fmt: skip
        kernel, built, machine = linux.kernel, linux.image, linux.machine
        base = _first(overrides.cmdline, spec.cmdline, config.linux.cmdline)
    else:
        kernel = _profile_kernel(config, profile, spec, overrides.kernel, bench_args)
        built = kernel  # what the result records: the image, not the copy QEMU boots
        if spec.boot == "multiboot-elf64":
            kernel = multiboot_copy(kernel)
        base = _first(overrides.cmdline, spec.cmdline, DEFAULT_CMDLINE)
        machine = overrides.machine or spec.machine or "pc"
    return GuestTarget(
        name=profile.name,
        profile=profile.name,
        kernel=kernel,
        cmdline=join_cmdline(base, spec.cmdline_extra),
        machine=machine,
        memory_mb=overrides.memory_mb or spec.memory_mb or DEFAULT_MEMORY_MB,
        cpu=overrides.cpu or spec.cpu,
        extra_qemu_args=spec.qemu_args,
        forwards=overrides.forwards,
        suite=spec.suite,
        args=spec.args,
        exit_device=spec.exit_device,
        kvm_probe_kernel=_kvm_probe_kernel(config) if spec.guest == "kernel" else built,
        image=built,
    )


def linux_target(config: Config | None, overrides: Overrides = Overrides()) -> GuestTarget:
    """The reference Linux guest of ``bench linux``: the config's [linux] when there
    is a config, so it boots under the same settings as the profiles' benches."""
    linux = config.linux if config is not None else LinuxGuest()
    boot = linux_boot(_linux_kernel(linux, overrides.kernel), overrides.machine)
    return GuestTarget(
        name="linux",
        kernel=boot.kernel,
        image=boot.image,
        kvm_probe_kernel=boot.image,
        machine=boot.machine,
        cmdline=_first(overrides.cmdline, linux.cmdline),
        memory_mb=overrides.memory_mb or DEFAULT_MEMORY_MB,
        cpu=overrides.cpu,
        forwards=overrides.forwards,
    )


def _ensure_tools(options: BenchOptions) -> None:
    """QEMU, and musl-gcc unless another bench binary is given."""
    programs = ("qemu-system-x86_64",) if options.binary else packages.BENCH
    provision.ensure_packages(programs)


def linux_options(config: Config | None, options: BenchOptions) -> BenchOptions:
    """The reference guest runs the config's [linux] binary unless --binary says otherwise:
    the kernel's own userspace bench, so that `cost` sets like beside like."""
    if options.binary is None and config is not None and config.linux.binary is not None:
        return dataclasses.replace(options, binary=config.linux.binary)
    return options


def run_linux_bench(
    config: Config | None, options: BenchOptions, overrides: Overrides = Overrides()
) -> Result:
    options = linux_options(config, options)
    _ensure_tools(options)
    return run_guest(linux_target(config, overrides), options)


def run_bench(
    config: Config, name: str, options: BenchOptions, overrides: Overrides = Overrides()
) -> Result:
    _ensure_tools(options)
    spec = bench_spec(config, config.profile(name))
    refuse_unpassable(name, spec.args, options, spec.suite)
    bench_args = ""
    if spec.args == "build":
        # The arguments go into the kernel's init at build time: decide them (quick
        # follows the accelerator) before building.
        probe = _kvm_probe_kernel(config) or provision.ensure_guest_kernel()
        accelerator, _ = choose_accelerator(options, probe)
        quick = options.quick if options.quick is not None else accelerator == "tcg"
        bench_args = " ".join(bench_arguments(options, quick))
    target = guest_target(config, name, overrides, bench_args=bench_args)
    output.info(
        f"{name}: booting {target.kernel} with `{target.cmdline}` on machine {target.machine}"
    )
    return run_guest(target, options)
