"""One benchmark run, end to end: binary -> initramfs -> boots -> result file.

``run_guest`` boots a kernel under QEMU once per ``--boots``; ``run_host``
runs the same bench binary natively.  Both write a schema-valid result file
(atomically) whatever happens: a run that fails part-way keeps its samples,
is marked incomplete with the reason, and then raises ``RunFailed`` with the
exit code of what went wrong.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_tools import output
from ci_tools.bench.schedule import Shard, boot_indices, jobs_for, run_boots
from ci_tools.boot import accel
from ci_tools.boot.console import Ending, Limits, Stop, read_console
from ci_tools.boot.outcome import COMPLETE, Status, StatusKind
from ci_tools.boot.ports import Forward
from ci_tools.boot.protocol import ParsedOutput, parse_console
from ci_tools.boot.qemu import BootOutcome, GuestSpec, Mode, boot, qemu_binary, qemu_version
from ci_tools.build.benchbin import build_bench
from ci_tools.build.initramfs import bench_initramfs
from ci_tools.config import DEFAULT_CMDLINE, ArgsRoute, BenchSuite, ExitDevice
from ci_tools.errors import BadInputError, CiToolsError, RunFailed
from ci_tools.results.model import BootRecord, QemuSetup, Result, ResultBuilder, Setup, Target
from ci_tools.results.store import save
from ci_tools.util.files import write_atomic
from ci_tools.util.paths import cache_dir, sha256_file

CORE_BENCHMARKS = (
    "getpid", "read_null", "write_null", "pipe", "fork_exit", "open_close", "mmap_fault", "stat",
)  # fmt: skip
PAD_ARGUMENT = "ci_tools.pad"
MAX_RETRIES = 2


@dataclass(frozen=True, kw_only=True)
class BenchOptions:
    quick: bool | None = None  # None: quick under TCG, full under KVM or natively
    rounds: int = 1
    boots: int = 1
    mode: Mode | None = None  # None: deterministic under TCG, wall-clock otherwise
    accel: str = "auto"
    binary: Path | None = None  # another protocol-speaking bench binary
    benchmarks: tuple[str, ...] = ()
    output: Path | None = None
    timeout: float | None = None  # per boot
    silence_timeout: float | None = None
    jobs: int | None = None  # boots at once; None: bench.schedule.jobs_for's default
    first_boot: int = 0  # the index of the first boot (its command line's padding)
    shard: Shard | None = None  # measure only this shard of the boots


@dataclass(frozen=True, kw_only=True)
class GuestTarget:
    name: str
    kernel: Path
    profile: str | None = None
    cmdline: str = DEFAULT_CMDLINE
    machine: str = "pc"
    cpu: str | None = None
    memory_mb: int = 512
    smp: int = 1
    extra_qemu_args: tuple[str, ...] = ()
    forwards: tuple[Forward, ...] = ()
    suite: BenchSuite = "ci_tools"  # kernel: the bench is built into the kernel image
    args: ArgsRoute = "after-dashes"  # how the bench arguments reach the bench
    exit_device: ExitDevice | None = None
    # The kernel whose test boot tells whether KVM works here: a Linux kernel (the probe
    # waits for "Linux version"); None: this target's own kernel is one.
    kvm_probe_kernel: Path | None = None
    image: Path | None = None  # the built image, when QEMU boots a copy of it


def bench_arguments(options: BenchOptions, quick: bool) -> list[str]:
    args = ["--quick"] if quick else []
    if options.rounds != 1:
        args += ["--rounds", str(options.rounds)]
    return args + list(options.benchmarks)


def boot_cmdline(
    base: str, boot_index: int, bench_args: list[str], route: ArgsRoute = "after-dashes"
) -> str:
    """Kernel command line of one boot.

    Boots after the first carry a padding argument of growing length: it
    shifts the kernel's memory layout and timer phase a little, so the
    samples of several boots cover effects one boot would hide.  The kernel
    hands the unknown ``name=value`` to init's environment, where bench.c
    ignores it (a kernel that reads its bench arguments from the command
    line is expected to ignore ``name=value`` words too).
    """
    pad = f" {PAD_ARGUMENT}={'x' * boot_index}" if boot_index else ""
    if not bench_args or route in ("none", "build"):  # build: they are in the kernel's init
        return f"{base}{pad}".strip()
    if route == "cmdline":
        return f"{base}{pad} {' '.join(bench_args)}".strip()
    return f"{base}{pad} -- {' '.join(bench_args)}".strip()


def refuse_unpassable(
    name: str, route: ArgsRoute, options: BenchOptions, suite: BenchSuite = "ci_tools"
) -> None:
    """Options the bench cannot honour, refused before building and booting instead of
    recording a run that did something else: --binary for a kernel that runs its own
    bench, and any argument for a bench that takes none."""
    if suite == "kernel" and options.binary is not None:
        raise BadInputError(
            f'{name}: --binary has no effect: the kernel runs its own bench (suite = "kernel")',
            hint='drop --binary, or set the profile\'s bench suite to "ci_tools"',
        )
    if route != "none":
        return
    asked = [
        flag
        for flag, given in (
            ("--quick/--full", options.quick is not None),
            ("--rounds", options.rounds != 1),
            ("--benchmarks", bool(options.benchmarks)),
        )
        if given
    ]
    if asked:
        raise BadInputError(
            f"{name}: {', '.join(asked)} cannot reach this kernel's bench: the config "
            'says it takes no arguments (args = "none")',
            hint="drop those options, or set the profile's bench args to how the kernel "
            'reads them ("cmdline", "after-dashes")',
        )


def not_as_asked(parsed: ParsedOutput, options: BenchOptions, quick: bool) -> str | None:
    """How a complete run differs from what its arguments asked for, or None.

    A bench that never got its arguments (a kernel that ignores its command
    line) runs its defaults: that is reported, not recorded as the run asked for."""
    if not parsed.samples and not parsed.skips:
        return "the bench ran no benchmark at all (BENCH_START, then BENCH_END)"
    differences = []
    if parsed.mode is not None and parsed.mode != ("quick" if quick else "full"):
        differences.append(f"{parsed.mode} mode, not {'quick' if quick else 'full'}")
    rounds = max(
        [s.round for s in parsed.samples] + [s.round for s in parsed.skips]
        + ([parsed.plan.rounds] if parsed.plan is not None else []),
    )  # fmt: skip
    if rounds != options.rounds:
        differences.append(f"{rounds} round(s), not {options.rounds}")
    ran = {s.name for s in parsed.samples} | {s.name for s in parsed.skips}
    if options.benchmarks and ran != set(options.benchmarks):
        differences.append(
            f"benchmarks {', '.join(sorted(ran))}, not {', '.join(options.benchmarks)}"
        )
    if not differences:
        return None
    return (
        f"the bench did not run what was asked ({'; '.join(differences)}): its arguments "
        "did not reach it, or it does not take them in this form"
    )


def default_limits(accelerator: str, quick: bool, options: BenchOptions) -> Limits:
    """Per-boot limits; TCG is much slower than KVM or native, full mode slower than quick."""
    slow = accelerator == "tcg"
    timeout = 240.0 if quick else 3600.0
    if not slow:
        timeout /= 4
    timeout *= max(1, options.rounds)
    silence = 60.0 if slow else 30.0
    return Limits(
        timeout=options.timeout or timeout,
        silence_timeout=options.silence_timeout or silence,
        grace_after_end=10.0 if slow else 5.0,
        first_output_timeout=max(options.silence_timeout or 0.0, 90.0 if slow else 30.0),
    )


def default_output(name: str, folder: Path = Path("results")) -> Path:
    """``<folder>/<name>-<time>.json``, a name no other run has taken: two runs started in
    the same second each claim their own (``-2``, ``-3``, ...), so neither writes over the
    other's result or console logs."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        path = folder / (f"{name}-{stamp}.json" if n == 1 else f"{name}-{stamp}-{n}.json")
        claim = _claim(path)
        try:
            # The claim, not the result: a run killed before writing leaves no empty result.
            claim.touch(exist_ok=False)
        except FileExistsError:
            continue
        if path.exists():
            continue  # a run of an older ci_tools, or one whose claim was swept
        return path
    raise AssertionError("unreachable")


def _claim(path: Path) -> Path:
    return path.with_name(f".{path.name}.claimed")


def save_result(document: dict[str, Any], out: Path) -> Result:
    """Write the result; the name's claim (``default_output``) is no longer needed."""
    result = save(document, out)
    _claim(out).unlink(missing_ok=True)
    return result


def host_cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class _Progress:
    """Turns console lines into 'benchmark k of n' progress lines."""

    def __init__(self, label: str, options: BenchOptions, *, core_suite: bool = True) -> None:
        # What the options ask for; a BENCH_PLAN line, when there is one, says exactly.
        # Another suite's size is unknown until its plan says it.
        count = len(options.benchmarks) or (len(CORE_BENCHMARKS) if core_suite else 0)
        self.label, self.expected, self.done = label, options.rounds * count, 0

    def __call__(self, line: str) -> None:
        words = line.split()
        if not words:
            return
        if words[0] == "BENCH_START":
            output.phase(f"{self.label}: benchmarks started")
        elif words[0] == "BENCH_PLAN" and len(words) >= 3 and (words[1] + words[2]).isdigit():
            self.expected = int(words[1]) * int(words[2])
        elif words[0] in ("BENCH", "BENCH_SKIP") and len(words) > 1:
            self.done += 1
            verb = "skipped" if words[0] == "BENCH_SKIP" else "done"
            # Never "24 of 8": past an estimate, count without a total.
            of = f" of {self.expected}" if self.done <= self.expected else ""
            output.phase(f"{self.label}: {words[1]} {verb} ({self.done}{of})")


# What to do about each way a run can fail (the console log is always kept).
_HINTS = {
    StatusKind.INCOMPLETE: "read the console log: the bench binary stopped or printed "
    "something that is not the BENCH protocol",
    StatusKind.KERNEL_PANIC: "the console log holds the panic message and backtrace",
    StatusKind.GUEST_RESET: "the guest reset (triple fault or reboot); the console log shows "
    "how far it got",
    StatusKind.HANG: "the console log shows the last output; if the workload is legitimately "
    "quiet for longer, raise --silence-timeout",
    StatusKind.TIMEOUT: "raise --timeout if the run needs longer (full mode under TCG is slow: "
    "use --quick)",
    StatusKind.QEMU_FAILED: "QEMU's own message above names the option or file it rejected",
    StatusKind.KVM_FAILED: "use --accel tcg, or --accel auto to fall back to TCG",
    StatusKind.INTERRUPTED: "run it again",
}


def _finish(document: dict[str, Any], out: Path, status: Status) -> Result:
    result = save_result(document, out)
    if not status.complete:
        logs = ", ".join(str(out.parent / b.console_log) for b in result.boots if b.console_log)
        raise RunFailed(
            f"{result.name}: {status.reason}",
            exit_code=status.kind.exit_code,
            hint=f"{_HINTS.get(status.kind, 'see the console log')}. "
            f"Samples measured so far are kept in {out}; console log: {logs}",
            result_path=str(out),
        )
    return result


def _write_initramfs(binary: Path) -> tuple[Path, str]:
    data = bench_initramfs(binary.read_bytes())
    digest = hashlib.sha256(data).hexdigest()
    path = cache_dir("initramfs") / f"{digest[:20]}.cpio"
    if not path.exists():
        write_atomic(path, data)  # a unique temporary name: concurrent runs never collide
    return path, digest


def _bench_binary(options: BenchOptions) -> Path:
    """``--binary``, or ci_tools' bench.c built (or taken from the cache)."""
    binary = options.binary or build_bench()
    if not binary.is_file():
        raise BadInputError(f"bench binary {binary} does not exist")
    return binary


def _boot_with_retries(
    boot_fn: Callable[..., BootOutcome],
    spec: GuestSpec,
    *,
    log_path: Path,
    limits: Limits,
    progress: _Progress,
    stop: Stop,
) -> tuple[BootOutcome, list[Status]]:
    """One boot; an infrastructure failure (QEMU did not start) is retried at
    most MAX_RETRIES times, each failed attempt returned for the record.  Guest
    failures (panic, hang, reset) are never retried: they are results."""
    attempts: list[Status] = []
    while True:
        outcome = boot_fn(spec, log_path=log_path, limits=limits, on_line=progress, stop=stop)
        if (
            not outcome.status.kind.is_infrastructure
            or len(attempts) >= MAX_RETRIES
            or stop.requested
        ):
            return outcome, attempts
        output.warn(f"{progress.label}: {outcome.status.reason}; retrying (infrastructure failure)")
        attempts.append(outcome.status)


@dataclass(frozen=True, kw_only=True)
class _Boot:
    """One boot of ``run_guest``: its record, what QEMU said, or the error that stopped it."""

    record: BootRecord
    outcome: BootOutcome | None
    failure: CiToolsError | None = None


def choose_accelerator(options: BenchOptions, kernel: Path) -> tuple[str, str]:
    """(accelerator, reason): TCG for deterministic mode, else what ``--accel`` and a KVM
    test boot of ``kernel`` (a Linux kernel) say."""
    if options.mode is Mode.DETERMINISTIC and options.accel == "auto":
        # -icount exists only under TCG; don't let a working KVM turn the mode down.
        return "tcg", "deterministic mode runs under TCG (-icount)"
    return accel.choose(options.accel, kernel)


def run_guest(
    target: GuestTarget,
    options: BenchOptions,
    *,
    boot_fn: Callable[..., BootOutcome] = boot,
) -> Result:
    collected = ResultBuilder()
    out = options.output or default_output(target.name)
    refuse_unpassable(target.name, target.args, options, target.suite)
    initrd: Path | None = None
    initrd_sha: str | None = None
    if target.suite == "kernel":
        binary = target.image or target.kernel  # the bench is the one built into the image
    else:
        output.phase(f"{target.name}: preparing bench binary")
        binary = _bench_binary(options)
        initrd, initrd_sha = _write_initramfs(binary)
    accelerator, accel_reason = choose_accelerator(
        options, target.kvm_probe_kernel or target.kernel
    )
    quick = options.quick if options.quick is not None else accelerator == "tcg"
    mode = options.mode or (Mode.DETERMINISTIC if accelerator == "tcg" else Mode.WALLCLOCK)
    limits = default_limits(accelerator, quick, options)
    if target.suite == "kernel" and target.exit_device is None:
        # A kernel that halts after its bench never powers off: once BENCH_END is
        # read there is nothing more to wait for (Kevlar: 10 s a boot otherwise).
        limits = dataclasses.replace(limits, grace_after_end=min(limits.grace_after_end, 1.0))
    bench_args = bench_arguments(options, quick)
    indices = boot_indices(first_boot=options.first_boot, boots=options.boots, shard=options.shard)
    total = options.first_boot + options.boots
    core_suite = target.suite == "ci_tools"

    def spec_of(index: int) -> GuestSpec:
        return GuestSpec(
            kernel=target.kernel, initrd=initrd,
            cmdline=boot_cmdline(target.cmdline, index, bench_args, target.args),
            accel=accelerator, mode=mode, machine=target.machine, cpu=target.cpu,
            memory_mb=target.memory_mb, smp=target.smp, extra_args=target.extra_qemu_args,
            forwards=target.forwards, exit_device=target.exit_device,
        )  # fmt: skip

    def one_boot(index: int, stop: Stop) -> _Boot:
        spec = spec_of(index)
        log_path = out.with_name(f"{out.stem}.boot{index}.console.log")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        label = f"{target.name} boot {index + 1}/{total}"
        output.phase(f"{label}: booting {(target.image or target.kernel).name} under "
                     f"{accelerator.upper()}"
                     f" ({mode.value}{', quick' if quick else ''})")  # fmt: skip
        try:
            outcome, attempts = _boot_with_retries(
                boot_fn, spec, log_path=log_path, limits=limits, stop=stop,
                progress=_Progress(label, options, core_suite=core_suite),
            )  # fmt: skip
        except CiToolsError as exc:
            # E.g. a forwarded port taken between two boots: the boots already
            # measured are written, then the error is raised as it is.
            status = Status(kind=StatusKind.HARNESS_ERROR,
                            reason=f"boot {index + 1} of {total}: {exc.message}")  # fmt: skip
            record = BootRecord(index=index, cmdline=spec.cmdline, status=status, wall_s=0.0,
                                console_log=None)  # fmt: skip
            return _Boot(record=record, outcome=None, failure=exc)
        if target.args != "none" and outcome.status.complete:
            differs = not_as_asked(outcome.parsed, options, quick)
            if differs is not None:
                outcome.status = Status(kind=StatusKind.INCOMPLETE, reason=differs)
        record = BootRecord(
            index=index, cmdline=spec.cmdline, status=outcome.status,
            wall_s=round(outcome.console.wall_s, 3),
            console_log=os.path.relpath(log_path, out.parent),
            attempts=tuple(attempts), forwarded_ports=outcome.ports,
        )  # fmt: skip
        if outcome.ports:
            output.info(f"{label}: forwarded ports (guest->host) {outcome.ports}")
        if target.exit_device is not None and outcome.console.ending is Ending.STOPPED_AFTER_END:
            output.warn(
                f"{label}: the guest did not power QEMU off through the configured exit device "
                f"(iobase {target.exit_device.iobase:#x}); it was stopped "
                f"{limits.grace_after_end:g} s after BENCH_END: check exit_device in the config"
            )
        output.phase(f"{label}: {outcome.status.kind.value} in {outcome.console.wall_s:.1f} s")
        if not outcome.status.complete:
            record = dataclasses.replace(record, status=Status(
                kind=outcome.status.kind,
                reason=f"boot {index + 1} of {total}: {outcome.status.reason}",
            ))  # fmt: skip
        return _Boot(record=record, outcome=outcome)

    ran = run_boots(
        indices, one_boot, jobs=min(jobs_for(options.jobs, mode), len(indices)),
        failure=lambda b: None if b.record.status.complete else b.record.status.reason,
        label=target.name,
    )  # fmt: skip
    observed_mode: str | None = None
    observed_rounds = options.rounds
    command = [qemu_binary()]
    status = COMPLETE
    failure: CiToolsError | None = None
    for index in sorted(ran.done):
        done = ran.done[index]
        collected.add_boot(done.record)
        if done.outcome is not None:
            collected.add(index, done.outcome.parsed)
            if len(command) == 1:  # the first boot's, as target.cmdline records the first boot's
                command = done.outcome.command
            if target.args == "none":
                # Nothing was passed: record what the bench says it did.
                observed_mode = done.outcome.parsed.mode or observed_mode
                observed_rounds = max((s.round for s in done.outcome.parsed.samples), default=1)
        failure = failure or done.failure
    # The run's status: the failure that stopped it (the boots it stopped say so too).
    if ran.stopped is not None:
        statuses = [d.record.status for d in ran.done.values()]
        status = next((s for s in statuses if s.reason == ran.stopped), None) or Status(
            kind=StatusKind.INTERRUPTED, reason=ran.stopped
        )
    first_spec = spec_of(indices[0])
    measured = Target(
        name=target.name, kind="guest", profile=target.profile,
        kernel=target.image or target.kernel,
        kernel_sha256=sha256_file(target.image or target.kernel),
        cmdline=first_spec.cmdline,
        bench_binary=binary, bench_binary_sha256=sha256_file(binary),
        initramfs_sha256=initrd_sha,
    )  # fmt: skip
    if observed_mode is not None:
        quick = observed_mode == "quick"
    setup = Setup(
        accelerator=accelerator, accelerator_reason=accel_reason, mode=mode.value,
        quick=quick, rounds=observed_rounds, boots=len(indices),
        qemu=QemuSetup(version=qemu_version(command[0]), command=tuple(command),
                       machine=target.machine, memory_mb=target.memory_mb),
        cpu_model=first_spec.cpu_model, host_cpu=host_cpu(),
    )  # fmt: skip
    document = collected.document(target=measured, setup=setup, status=status)
    if failure is not None:
        save_result(document, out)
        output.info(f"the boots measured before this error are kept in {out}")
        raise failure
    return _finish(document, out, status)


def run_host(options: BenchOptions) -> Result:
    """The bench binary run natively, as ``run-benchmarks.py linux --binary`` did."""
    if options.mode is Mode.DETERMINISTIC:
        raise BadInputError(
            "deterministic mode needs a QEMU guest; a native run measures wall-clock time",
            hint="drop --mode, or use --mode wallclock",
        )
    collected = ResultBuilder()
    out = options.output or default_output("host")
    binary = _bench_binary(options)
    quick = bool(options.quick)
    limits = default_limits("none", quick, options)
    argv = [str(binary.resolve()), *bench_arguments(options, quick)]
    log_path = out.with_name(f"{out.stem}.console.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    output.phase(f"host: running {binary} natively")
    with log_path.open("wb") as log:
        run = read_console(argv, log=log, limits=limits, on_line=_Progress("host", options))
    parsed = parse_console(run.raw.decode(errors="replace"))
    reason = parsed.incomplete_reason()
    if reason is None and run.exit_status not in (0, None):
        reason = f"the bench binary exited with status {run.exit_status}"
    if run.signal_status is not None and not run.saw_end:
        reason = f"the bench binary was killed by signal {run.signal_status}" + (
            f" ({reason})" if reason else ""
        )
    if reason is None:
        status = COMPLETE
    elif run.ending in (Ending.SILENT, Ending.TIMEOUT):
        kind = StatusKind.HANG if run.ending is Ending.SILENT else StatusKind.TIMEOUT
        status = Status(kind=kind, reason=f"{run.ending.value}: {reason}")
    else:
        status = Status(kind=StatusKind.INCOMPLETE, reason=reason)
    collected.add(0, parsed)
    collected.add_boot(
        BootRecord(index=0, cmdline=None, status=status, wall_s=round(run.wall_s, 3),
                   console_log=os.path.relpath(log_path, out.parent))
    )  # fmt: skip
    measured = Target(
        name="host", kind="host", bench_binary=binary, bench_binary_sha256=sha256_file(binary)
    )
    cpu = host_cpu()
    setup = Setup(
        accelerator="none", accelerator_reason="native run on the host", mode="wallclock",
        quick=quick, rounds=options.rounds, boots=1, qemu=None, cpu_model=cpu, host_cpu=cpu,
    )  # fmt: skip
    document = collected.document(target=measured, setup=setup, status=status)
    return _finish(document, out, status)
