"""Boot a kernel under QEMU, read its serial console, and name how it ended.

Each boot gets a private runtime folder holding QEMU's QMP socket, pidfile
and stderr, and a VM name ``ci_tools-<id>`` visible in ``ps``, so a stale
QEMU of ours can always be told apart from anyone else's process
(``boot.vms``).  How the boot ended is decided by ``boot.outcome``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any

from ci_tools.boot import ports, vms
from ci_tools.boot.console import ConsoleRun, Ending, Limits, Stop, read_console
from ci_tools.boot.outcome import Status, StatusKind, classify
from ci_tools.boot.ports import Forward
from ci_tools.boot.protocol import ParsedOutput, parse_console
from ci_tools.boot.qmp import QmpClient
from ci_tools.config import ExitDevice
from ci_tools.errors import BadInputError, HarnessError, Interrupted
from ci_tools.util import proc

QEMU = "qemu-system-x86_64"
# Guest time advances per instruction, not with the host clock; see README "Modes".
ICOUNT_ARGS = ("-icount", "shift=0,sleep=off,align=off")


class Mode(str, Enum):
    DETERMINISTIC = "deterministic"
    WALLCLOCK = "wallclock"


@dataclass(frozen=True, kw_only=True)
class GuestSpec:
    kernel: Path
    initrd: Path | None  # None: the kernel brings its own init (a bench built into it)
    cmdline: str
    accel: str  # "kvm" or "tcg"
    mode: Mode
    machine: str = "pc"
    cpu: str | None = None  # None: "host" under KVM, "qemu64" under TCG
    memory_mb: int = 512
    smp: int = 1
    extra_args: tuple[str, ...] = ()
    forwards: tuple[Forward, ...] = ()  # host ports forwarded to the guest (user networking)
    exit_device: ExitDevice | None = None  # isa-debug-exit: the guest powers QEMU off

    @property
    def cpu_model(self) -> str:
        return self.cpu or ("host" if self.accel == "kvm" else "qemu64")


@dataclass(kw_only=True)
class BootOutcome:
    status: Status
    console: ConsoleRun
    parsed: ParsedOutput
    command: list[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)  # guest port -> host port


def qemu_binary() -> str:
    return proc.which(QEMU)


@cache
def qemu_version(binary: str) -> str:
    first = proc.run([binary, "--version"], quiet=True).stdout.splitlines()[0]
    match = re.search(r"version (\S+)", first)
    return match.group(1) if match else first.strip()


def build_command(
    spec: GuestSpec, *, binary: str, name: str, pidfile: Path, qmp_socket: Path
) -> list[str]:
    if spec.mode is Mode.DETERMINISTIC and spec.accel != "tcg":
        raise BadInputError(
            f"deterministic mode needs QEMU's TCG accelerator, not {spec.accel}",
            hint="use --mode wallclock with --accel kvm, or --accel tcg",
        )
    argv = [
        binary,
        "-name", f"{name},process={name[:15]}",
        "-machine", spec.machine,
        "-accel", spec.accel,
        "-cpu", spec.cpu_model,
        "-m", str(spec.memory_mb),
        "-smp", str(spec.smp),
        "-nodefaults", "-no-user-config",
        "-display", "none",
        "-serial", "stdio",
        "-monitor", "none",
        "-no-reboot",
        "-qmp", f"unix:{qmp_socket},server=on,wait=on",
        "-pidfile", str(pidfile),
        "-kernel", str(spec.kernel),
        *(("-initrd", str(spec.initrd)) if spec.initrd is not None else ()),
        "-append", spec.cmdline,
    ]  # fmt: skip
    if spec.machine == "q35" or spec.machine.startswith("pc"):
        # A guest kernel with a pvpanic driver reports panics to QEMU directly
        # (QMP GUEST_PANICKED), not only as text on the console.
        argv += ["-device", "pvpanic"]
    if spec.forwards:
        argv += ["-nic", ",".join(["user", "model=virtio-net-pci"]
                                  + [f.hostfwd() for f in spec.forwards])]  # fmt: skip
    if spec.exit_device is not None:
        argv += spec.exit_device.qemu_args()
    if spec.mode is Mode.DETERMINISTIC:
        argv += ICOUNT_ARGS
    return argv + list(spec.extra_args)


def boot(
    spec: GuestSpec,
    *,
    log_path: Path,
    limits: Limits,
    on_line: Callable[[str], None] | None = None,
    stop: Stop | None = None,
) -> BootOutcome:
    """Boot once; always returns an outcome (never leaves QEMU running).  ``stop``
    (another thread asking this boot to end) gives an interrupted outcome."""
    binary = qemu_binary()
    name = f"{vms.VM_NAME_PREFIX}{secrets.token_hex(4)}"
    runtime = vms.runtime_dir()
    vms.sweep(runtime)
    with ports.reserved(spec.forwards, runtime):
        folder = vms.new_folder(runtime, name)
        try:
            return _boot(spec, binary, folder.path, log_path, limits, on_line, stop)
        finally:
            folder.release()


def _boot(
    spec: GuestSpec,
    binary: str,
    workdir: Path,
    log_path: Path,
    limits: Limits,
    on_line: Callable[[str], None] | None,
    stop: Stop | None,
) -> BootOutcome:
    name = workdir.name
    qmp_socket = workdir / "qmp.sock"
    command = build_command(
        spec, binary=binary, name=name, pidfile=workdir / vms.PIDFILE, qmp_socket=qmp_socket
    )
    qmp = QmpClient(qmp_socket)
    events: list[dict[str, Any]] = []
    forwarded: dict[int, int] = {}

    def connected(alive: Callable[[], bool]) -> None:
        qmp.connect(timeout=20.0, alive=alive)
        if spec.forwards:
            usernet = qmp.execute("human-monitor-command", **{"command-line": "info usernet"})
            forwarded.update(ports.read_forwarded(str(usernet)))

    try:
        with log_path.open("wb") as log:
            try:
                console = read_console(
                    command,
                    log=log,
                    limits=limits,
                    stderr_path=workdir / "qemu.stderr",
                    on_line=on_line,
                    after_spawn=connected,
                    stop=stop,
                )
            except HarnessError as exc:
                # QMP never came up: QEMU died at start-up. Report its own words.
                stderr_file = workdir / "qemu.stderr"
                stderr = stderr_file.read_text(errors="replace") if stderr_file.exists() else ""
                console = ConsoleRun(
                    raw=b"", ending=Ending.EXITED, exit_status=1, signal_status=None,
                    wall_s=0.0, stderr=stderr or str(exc),
                )  # fmt: skip
            except (KeyboardInterrupt, Interrupted) as exc:
                # QEMU is already gone (read_console kills it on the way out);
                # keep what the console said so far.
                log.flush()
                raw = log_path.read_bytes()
                console = ConsoleRun(
                    raw=raw, ending=Ending.EXITED, exit_status=None, signal_status=None,
                    wall_s=0.0, stderr="",
                )  # fmt: skip
                parsed = parse_console(raw.decode(errors="replace"))
                what = str(exc) or "interrupted (Ctrl-C)"
                return BootOutcome(
                    status=Status(kind=StatusKind.INTERRUPTED, reason=what),
                    console=console, parsed=parsed, command=command,
                )  # fmt: skip
            events = qmp.events()
    finally:
        qmp.close()
    parsed = parse_console(console.raw.decode(errors="replace"))
    status = classify(
        console, parsed, events, accel=spec.accel, limits=limits, exit_device=spec.exit_device
    )
    return BootOutcome(
        status=status, console=console, parsed=parsed, command=command, events=events,
        ports=forwarded,
    )  # fmt: skip
