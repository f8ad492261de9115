"""How a run ended: each way has a name and its own exit code.

``classify`` decides it for a boot from what the console, QEMU and QMP
said, most specific cause first; ``Status`` is what a result file records
for the run and for each boot (``schemas/results-v1.schema.json``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from ci_tools.boot.console import ConsoleRun, Ending, Limits
from ci_tools.boot.protocol import ParsedOutput
from ci_tools.config import ExitDevice
from ci_tools.errors import ExitCode

# QEMU's own words when KVM fails under it (the accelerator probe looks for them too).
KVM_FAILURE = re.compile(
    r"failed to set MSR|kvm_buf_set_msrs|Could not access KVM|failed to initialize kvm|"
    r"KVM: entry failed|kvm run failed",
    re.IGNORECASE,
)


class StatusKind(str, Enum):
    """How a run ended.  Each kind other than COMPLETE has its own exit code."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    KERNEL_PANIC = "kernel-panic"
    GUEST_RESET = "guest-reset"
    HANG = "hang"
    TIMEOUT = "timeout"
    QEMU_FAILED = "qemu-failed"
    KVM_FAILED = "kvm-failed"
    HARNESS_ERROR = "harness-error"
    INTERRUPTED = "interrupted"

    @property
    def exit_code(self) -> ExitCode:
        return _EXIT_CODES[self]

    @property
    def is_infrastructure(self) -> bool:
        """Failures that are not the guest's fault, and so may be retried."""
        return self in (StatusKind.QEMU_FAILED, StatusKind.HARNESS_ERROR)


_EXIT_CODES = {
    StatusKind.COMPLETE: ExitCode.OK,
    StatusKind.INCOMPLETE: ExitCode.INCOMPLETE,
    StatusKind.KERNEL_PANIC: ExitCode.KERNEL_PANIC,
    StatusKind.GUEST_RESET: ExitCode.GUEST_RESET,
    StatusKind.HANG: ExitCode.HANG,
    StatusKind.TIMEOUT: ExitCode.TIMEOUT,
    StatusKind.QEMU_FAILED: ExitCode.QEMU_FAILED,
    StatusKind.KVM_FAILED: ExitCode.KVM_FAILED,
    StatusKind.HARNESS_ERROR: ExitCode.HARNESS,
    StatusKind.INTERRUPTED: ExitCode.INTERRUPTED,
}


@dataclass(frozen=True, kw_only=True)
class Status:
    kind: StatusKind
    reason: str | None = None

    @property
    def complete(self) -> bool:
        return self.kind is StatusKind.COMPLETE

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": "complete" if self.complete else "incomplete",
            "kind": self.kind.value,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Status:
        return cls(kind=StatusKind(data["kind"]), reason=data["reason"])


COMPLETE = Status(kind=StatusKind.COMPLETE)


def classify(
    console: ConsoleRun,
    parsed: ParsedOutput,
    events: list[dict[str, Any]],
    *,
    accel: str,
    limits: Limits,
    exit_device: ExitDevice | None = None,
) -> Status:
    """How a boot ended, most specific cause first.

    With an ``exit_device``, an odd QEMU exit status is the guest's own word
    (isa-debug-exit), not a failure of QEMU: its success status ends a run
    normally, another one is the guest reporting a failure."""
    shutdown = [e for e in events if e.get("event") == "SHUTDOWN"]
    reason = shutdown[-1].get("data", {}).get("reason") if shutdown else None
    stderr = console.stderr.strip()
    if accel == "kvm" and KVM_FAILURE.search(stderr):
        return Status(kind=StatusKind.KVM_FAILED, reason=f"KVM failed in QEMU: {_last(stderr)}")
    # Only a guest that said something can have powered QEMU off: QEMU failing to
    # start exits 1 too, before any console output.
    guest_exit = (
        exit_device is not None
        and bool(console.raw)
        and console.ending is Ending.EXITED
        and console.exit_status is not None
        and console.exit_status % 2 == 1
    )
    if (
        guest_exit
        and exit_device is not None
        and parsed.panic is None
        and parsed.incomplete_reason() is None
        and console.exit_status != exit_device.success
    ):
        return Status(
            kind=StatusKind.INCOMPLETE,
            reason=f"the guest printed BENCH_END, then reported failure through isa-debug-exit: "
            f"QEMU status {console.exit_status} (it wrote {(console.exit_status or 0) >> 1}); "
            f"success is {exit_device.success}",
        )
    if guest_exit and parsed.panic is None and parsed.incomplete_reason() is not None:
        assert exit_device is not None and console.exit_status is not None
        said = (
            "its success status"
            if console.exit_status == exit_device.success
            else f"status {console.exit_status} (it wrote {console.exit_status >> 1}); "
            f"success is {exit_device.success}"
        )
        return Status(
            kind=StatusKind.INCOMPLETE,
            reason=f"the guest powered QEMU off through isa-debug-exit with {said} "
            f"({parsed.incomplete_reason()})",
        )
    if not console.raw and console.exit_status not in (0, None):
        return Status(
            kind=StatusKind.QEMU_FAILED,
            reason=f"QEMU exited with status {console.exit_status} before any console output: "
            f"{_last(stderr) or 'no message'}",
        )
    pvpanic = not parsed.ended and any(e.get("event") == "GUEST_PANICKED" for e in events)
    if parsed.panic is not None or pvpanic:
        return Status(
            kind=StatusKind.KERNEL_PANIC,
            reason=f"the guest kernel panicked: {parsed.panic or 'pvpanic event'}",
        )
    if parsed.incomplete_reason() is None:
        return Status(kind=StatusKind.COMPLETE)
    if reason == "guest-reset":
        return Status(
            kind=StatusKind.GUEST_RESET,
            reason="the guest reset itself (triple fault or reboot) before BENCH_END",
        )
    if console.ending is Ending.EXITED and (
        console.signal_status is not None or console.exit_status not in (0, None)
    ):
        # QEMU itself died mid-run (a crash, the OOM killer): not the guest's doing.
        how = (
            f"was killed by signal {console.signal_status}"
            if console.signal_status is not None
            else f"exited with status {console.exit_status}"
        )
        return Status(
            kind=StatusKind.QEMU_FAILED,
            reason=f"QEMU {how} during the run: {_last(stderr) or 'no message'} "
            f"({parsed.incomplete_reason()})",
        )
    if console.ending is Ending.SILENT:
        waited = limits.silence_timeout
        if not console.raw and limits.first_output_timeout is not None:
            waited = limits.first_output_timeout
        return Status(
            kind=StatusKind.HANG,
            reason=f"no console output for {waited:g} s ({parsed.incomplete_reason()})",
        )
    if console.ending is Ending.TIMEOUT:
        return Status(
            kind=StatusKind.TIMEOUT,
            reason=f"the run exceeded its {limits.timeout:g} s limit "
            f"({parsed.incomplete_reason()})",
        )
    return Status(kind=StatusKind.INCOMPLETE, reason=parsed.incomplete_reason())


def _last(text: str, lines: int = 3) -> str:
    # QEMU announces that it waits for our QMP connection; that is not the error.
    meaningful = [ln for ln in text.strip().splitlines() if "waiting for connection" not in ln]
    return " | ".join(meaningful[-lines:])
