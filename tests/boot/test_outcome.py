"""How a boot ended, decided from what the console, QEMU and QMP said; each way has its
own exit code."""

from __future__ import annotations

import signal

import pytest

from ci_tools.boot.console import ConsoleRun, Ending, Limits, read_console
from ci_tools.boot.outcome import Status, StatusKind, classify
from ci_tools.boot.protocol import parse
from ci_tools.config import ExitDevice

LIMITS = Limits(timeout=100, silence_timeout=10)
COMPLETE = ["BENCH_START s", "BENCH_PLAN 1 1 getpid", "BENCH_ROUND 1", "BENCH getpid 10 3450 345",
            "BENCH_END"]  # fmt: skip


def decide(lines: list[str], *, ending: Ending = Ending.EXITED, exit_status: int | None = 0,
           signal_status: int | None = None, stderr: str = "", events: list[dict[str, object]]
           | None = None, accel: str = "tcg") -> StatusKind:  # fmt: skip
    console = ConsoleRun(raw="\n".join(lines).encode(), ending=ending, exit_status=exit_status,
                         signal_status=signal_status, wall_s=1.0, stderr=stderr)  # fmt: skip
    return classify(console, parse(lines), events or [], accel=accel, limits=LIMITS).kind


def test_complete() -> None:
    assert decide(COMPLETE) is StatusKind.COMPLETE


def test_panic_before_end_is_a_panic() -> None:
    lines = [*COMPLETE[:3], "[ 3.0] Kernel panic - not syncing: Attempted to kill init!"]
    assert decide(lines) is StatusKind.KERNEL_PANIC


def test_panic_after_end_leaves_the_run_complete() -> None:
    # A bench binary that returns as PID 1: Linux panics after it printed everything.
    lines = [*COMPLETE, "[ 3.0] Kernel panic - not syncing: Attempted to kill init!"]
    assert decide(lines, events=[{"event": "GUEST_PANICKED"}]) is StatusKind.COMPLETE
    assert parse(lines).late_panic is not None


def test_qemu_killed_mid_run_is_qemu_failed_not_the_guests_fault() -> None:
    lines = COMPLETE[:3]
    assert decide(lines, exit_status=None, signal_status=signal.SIGSEGV) is StatusKind.QEMU_FAILED
    assert decide(lines, exit_status=1) is StatusKind.QEMU_FAILED
    assert decide(lines, exit_status=0) is StatusKind.INCOMPLETE  # the guest powered off early


def test_reset_silence_timeout_and_kvm() -> None:
    half = COMPLETE[:3]
    reset = [{"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-reset"}}]
    assert decide(half, events=reset) is StatusKind.GUEST_RESET
    assert decide(half, ending=Ending.SILENT, exit_status=None,
                  signal_status=signal.SIGTERM) is StatusKind.HANG  # fmt: skip
    assert decide(half, ending=Ending.TIMEOUT) is StatusKind.TIMEOUT
    assert decide([], exit_status=134, stderr="failed to set MSR 0x10a to 0x69",
                  accel="kvm") is StatusKind.KVM_FAILED  # fmt: skip
    assert decide([], exit_status=1, stderr="unable to find CPU model") is StatusKind.QEMU_FAILED


@pytest.mark.parametrize("prefix", ["", "[    0.000000] "])
def test_end_marker_is_found_inside_a_kernel_log_line(prefix: str, tmp_path: object) -> None:
    """The KVM probe waits for "Linux version", which stock kernels print after a timestamp."""
    import io

    script = f"printf '{prefix}Linux version 6.1.0\\n'; sleep 30"
    run = read_console(["/bin/sh", "-c", script], log=io.BytesIO(),
                       limits=Limits(timeout=20, silence_timeout=20, grace_after_end=0),
                       end_marker="Linux version")  # fmt: skip
    assert run.saw_end and run.ending is Ending.STOPPED_AFTER_END and run.wall_s < 20


def test_each_ending_has_its_documented_exit_code() -> None:
    # The numbers of README's "How a run can end, and exit codes", written out.
    assert {k: int(k.exit_code) for k in StatusKind} == {
        StatusKind.COMPLETE: 0, StatusKind.INCOMPLETE: 10, StatusKind.KERNEL_PANIC: 11,
        StatusKind.GUEST_RESET: 12, StatusKind.HANG: 13, StatusKind.TIMEOUT: 14,
        StatusKind.QEMU_FAILED: 15, StatusKind.KVM_FAILED: 16, StatusKind.HARNESS_ERROR: 20,
        StatusKind.INTERRUPTED: 130,
    }  # fmt: skip
    assert [k for k in StatusKind if k.is_infrastructure] == [
        StatusKind.QEMU_FAILED, StatusKind.HARNESS_ERROR,
    ]  # fmt: skip
    assert Status(kind=StatusKind.COMPLETE).to_dict() == {
        "state": "complete", "kind": "complete", "reason": None,
    }  # fmt: skip


def test_isa_debug_exit_is_the_guests_word_not_a_qemu_failure() -> None:
    """QEMU exits (v << 1) | 1 when the guest writes v to isa-debug-exit."""
    device = ExitDevice(iobase=0xF4, success=1)

    def with_device(lines: list[str], exit_status: int) -> Status:
        console = ConsoleRun(
            raw="\n".join(lines).encode(), ending=Ending.EXITED, exit_status=exit_status,
            signal_status=None, wall_s=1.0, stderr="",
        )  # fmt: skip
        return classify(console, parse(lines), [], accel="tcg", limits=LIMITS, exit_device=device)

    assert with_device(COMPLETE, 1).kind is StatusKind.COMPLETE
    early = with_device(COMPLETE[:3], 1)
    assert early.kind is StatusKind.INCOMPLETE and "with its success status" in early.reason
    failed = with_device(COMPLETE[:3], 3)
    assert failed.kind is StatusKind.INCOMPLETE
    assert "status 3 (it wrote 1); success is 1" in failed.reason
    panicked = with_device([*COMPLETE[:3], "demo-kernel panicked at src/main.rs:9:5: boom"], 3)
    assert panicked.kind is StatusKind.KERNEL_PANIC
    # Without the device, the same status is QEMU's own failure.
    assert decide(COMPLETE[:3], exit_status=3) is StatusKind.QEMU_FAILED
    # QEMU refusing to start exits 1 too, with no console output: QEMU's failure.
    refused = with_device([], 1)
    assert refused.kind is StatusKind.QEMU_FAILED
    # BENCH_END, then a failure status: the kernel said it failed.
    after_end = with_device(COMPLETE, 3)
    assert after_end.kind is StatusKind.INCOMPLETE
    assert "printed BENCH_END, then reported failure" in after_end.reason


def status(lines: list[str], *, ending: Ending = Ending.EXITED, exit_status: int | None = 0,
           signal_status: int | None = None, stderr: str = "",
           events: list[dict[str, object]] | None = None, accel: str = "tcg",
           limits: Limits = LIMITS, device: ExitDevice | None = None) -> Status:  # fmt: skip
    console = ConsoleRun(raw="\n".join(lines).encode(), ending=ending, exit_status=exit_status,
                         signal_status=signal_status, wall_s=1.0, stderr=stderr)  # fmt: skip
    return classify(console, parse(lines), events or [], accel=accel, limits=limits,
                    exit_device=device)  # fmt: skip


HALF = COMPLETE[:3]
CUT = "output ended before BENCH_END"
MSR = ("qemu-system-x86_64: -accel kvm: waiting for connection on qmp.sock\n"
       "first line\nsecond line\nthird line\nerror: failed to set MSR 0x10a to 0x69\n")  # fmt: skip


def test_each_ending_gives_its_reason() -> None:
    assert status(COMPLETE) == Status(kind=StatusKind.COMPLETE)
    assert status([], exit_status=134, stderr=MSR, accel="kvm") == Status(
        kind=StatusKind.KVM_FAILED,
        reason="KVM failed in QEMU: second line | third line | error: failed to set MSR 0x10a "
        "to 0x69",
    )
    # The same words under TCG are no KVM failure: QEMU failed before any output.
    assert status([], exit_status=1, stderr="  \n", accel="tcg") == Status(
        kind=StatusKind.QEMU_FAILED,
        reason="QEMU exited with status 1 before any console output: no message",
    )
    assert status([], exit_status=0).kind is StatusKind.INCOMPLETE  # powered off, said nothing
    assert status([*HALF, "Kernel panic - not syncing: oops"]) == Status(
        kind=StatusKind.KERNEL_PANIC, reason="the guest kernel panicked: Kernel panic - not "
        "syncing: oops",
    )  # fmt: skip
    assert status(HALF, events=[{"event": "GUEST_PANICKED"}]) == Status(
        kind=StatusKind.KERNEL_PANIC, reason="the guest kernel panicked: pvpanic event"
    )
    reset = [{"event": "SHUTDOWN", "data": {"guest": True, "reason": "guest-reset"}}]
    assert status(HALF, events=reset) == Status(
        kind=StatusKind.GUEST_RESET,
        reason="the guest reset itself (triple fault or reboot) before BENCH_END",
    )
    # A shutdown without data, and the guest's own power-off, are no reset.
    assert status(HALF, events=[{"event": "SHUTDOWN"}]).kind is StatusKind.INCOMPLETE
    poweroff = [{"event": "SHUTDOWN", "data": {"reason": "guest-shutdown"}}]
    assert status(HALF, events=poweroff) == Status(kind=StatusKind.INCOMPLETE, reason=CUT)
    assert status(HALF, exit_status=None, signal_status=9, stderr="") == Status(
        kind=StatusKind.QEMU_FAILED,
        reason=f"QEMU was killed by signal 9 during the run: no message ({CUT})",
    )
    assert status(HALF, exit_status=1, stderr="oom\n") == Status(
        kind=StatusKind.QEMU_FAILED, reason=f"QEMU exited with status 1 during the run: oom ({CUT})"
    )
    quiet = Limits(timeout=100, silence_timeout=10, first_output_timeout=60)
    assert status(HALF, ending=Ending.SILENT, exit_status=None, limits=quiet) == Status(
        kind=StatusKind.HANG, reason=f"no console output for 10 s ({CUT})"
    )
    assert status([], ending=Ending.SILENT, exit_status=None, limits=quiet) == Status(
        kind=StatusKind.HANG, reason="no console output for 60 s (no BENCH_START line: the bench "
        "binary never started its protocol)",
    )  # fmt: skip
    assert status([], ending=Ending.SILENT, exit_status=None).reason == (
        "no console output for 10 s (no BENCH_START line: the bench binary never started its "
        "protocol)"
    )
    assert status(HALF, ending=Ending.TIMEOUT, exit_status=None) == Status(
        kind=StatusKind.TIMEOUT, reason=f"the run exceeded its 100 s limit ({CUT})"
    )
    assert status(HALF) == Status(kind=StatusKind.INCOMPLETE, reason=CUT)


def test_isa_debug_exit_reasons_are_exact() -> None:
    device = ExitDevice(iobase=0xF4, success=1)
    assert status(COMPLETE, exit_status=5, device=device) == Status(
        kind=StatusKind.INCOMPLETE,
        reason="the guest printed BENCH_END, then reported failure through isa-debug-exit: "
        "QEMU status 5 (it wrote 2); success is 1",
    )
    assert status(HALF, exit_status=1, device=device) == Status(
        kind=StatusKind.INCOMPLETE,
        reason=f"the guest powered QEMU off through isa-debug-exit with its success status ({CUT})",
    )
    assert status(HALF, exit_status=7, device=device) == Status(
        kind=StatusKind.INCOMPLETE,
        reason="the guest powered QEMU off through isa-debug-exit with status 7 (it wrote 3); "
        f"success is 1 ({CUT})",
    )
    # An even status is QEMU's own, device or not.
    assert status(HALF, exit_status=2, device=device).kind is StatusKind.QEMU_FAILED
    assert status(COMPLETE, exit_status=1, device=device) == Status(kind=StatusKind.COMPLETE)
