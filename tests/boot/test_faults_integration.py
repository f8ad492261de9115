"""Fault injection with real QEMU guests: every way a run can end has its own
exit code and message, no QEMU is left behind, and what was measured is kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci_tools.errors import ExitCode
from ci_tools.host import provision
from ci_tools.results import store

from guest import REPO, build_c, qemu_processes, run_cli, vm_name

pytestmark = pytest.mark.integration

BASE_CMDLINE = "console=ttyS0 quiet panic=-1"


@pytest.fixture(scope="module")
def fault_init(tmp_path_factory: pytest.TempPathFactory) -> Path:
    provision.ensure_guest_kernel()
    return build_c(REPO / "tests" / "faults" / "fault_init.c", tmp_path_factory.mktemp("fault"))


def run_fault(
    fault_init: Path, fault: str, out: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "bench", "linux", "--quick", "--binary", str(fault_init), "--accel", "tcg",
        "--mode", "wallclock",
        "--cmdline", f"{BASE_CMDLINE} fault={fault}", "--silence-timeout", "6",
        "-o", str(out), *extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "code", "message", "kind"),
    [
        ("exit", ExitCode.KERNEL_PANIC, "Kernel panic - not syncing", "kernel-panic"),
        ("hang", ExitCode.HANG, "no console output for 6 s", "hang"),
        ("half", ExitCode.INCOMPLETE, "output ended before BENCH_END", "incomplete"),
        ("garbage", ExitCode.INCOMPLETE, "never started its protocol", "incomplete"),
        ("reset", ExitCode.GUEST_RESET, "reset itself", "guest-reset"),
    ],
)
def test_fault_has_its_own_exit_code_and_keeps_results(
    fault_init: Path, tmp_path: Path, fault: str, code: int, message: str, kind: str
) -> None:
    out = tmp_path / f"{fault}.json"
    run = run_fault(fault_init, fault, out)
    assert run.returncode == code, run.stderr
    assert message in run.stderr
    assert str(out) in run.stderr  # says where the partial result is
    result = store.load(out)  # the partial result is schema-valid
    assert result.status.kind.value == kind and not result.status.complete
    log = tmp_path / result.data["boots"][0]["console_log"]
    assert log.exists() and log.stat().st_size > 0
    if fault in ("half", "reset"):
        # the one benchmark measured before the failure is kept
        assert result.samples("getpid") == [345.0]
    assert not qemu_processes(vm_name(result.data["setup"]["qemu"]["command"]))


def _wait_for_child_qemu(parent: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in qemu_processes():
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                return pid
        time.sleep(0.1)
    raise AssertionError("the harness never started QEMU")


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True  # dead, waiting only for its (dead) parent's reaper
        time.sleep(0.1)
    return False


def _as_a_background_job() -> None:
    """What `cmd &` in a non-interactive shell (a CI script) does to its child."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_qemu_does_not_outlive_its_harness(fault_init: Path, tmp_path: Path, sig: int) -> None:
    """Started the way CI scripts start things (SIGINT inherited as ignored), the
    harness still stops on SIGINT and takes its QEMU with it."""
    out = tmp_path / "killed.json"
    harness = subprocess.Popen(
        [sys.executable, "-m", "ci_tools", "bench", "linux", "--binary", str(fault_init),
         "--accel", "tcg", "--cmdline", f"{BASE_CMDLINE} fault=hang",
         "--silence-timeout", "120", "-o", str(out)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=_as_a_background_job,
    )  # fmt: skip
    try:
        qemu = _wait_for_child_qemu(harness.pid)
        time.sleep(1)
        harness.send_signal(sig)
        assert _gone(qemu), f"QEMU {qemu} survived {signal.Signals(sig).name} of its harness"
        code = harness.wait(timeout=30)
    finally:
        harness.kill()
        harness.wait()
    if sig == signal.SIGKILL:
        return  # nothing of ours can run; the kernel's PDEATHSIG took QEMU down
    assert code == ExitCode.INTERRUPTED
    result = store.load(out)  # interrupted runs still write their result
    assert result.status.kind.value == "interrupted"


def test_qemu_that_cannot_start_is_retried_twice_then_named(tmp_path: Path) -> None:
    out = tmp_path / "bad-cpu.json"
    run = run_cli("bench", "linux", "--quick", "--cpu", "no-such-cpu", "-o", str(out))
    assert run.returncode == ExitCode.QEMU_FAILED
    assert "unable to find CPU model 'no-such-cpu'" in run.stderr
    assert run.stderr.count("retrying (infrastructure failure)") == 2
    result = store.load(out)
    assert result.status.kind.value == "qemu-failed"
    assert len(result.data["boots"][0]["attempts"]) == 2  # each retry recorded


def test_kvm_probe_classifies_and_auto_falls_back(tmp_path: Path) -> None:
    from ci_tools.boot import accel

    kernel = provision.ensure_guest_kernel()
    verdict = accel.probe_kvm(kernel)
    out = tmp_path / "auto.json"
    run = run_cli("bench", "linux", "--quick", "--accel", "auto", "--mode", "wallclock",
                  "--benchmarks", "getpid", "-o", str(out))  # fmt: skip
    assert run.returncode == 0, run.stderr
    recorded = store.load(out).data["setup"]
    # The classes themselves are unit-tested with a stand-in QEMU (tests/boot/test_accel.py);
    # here the real probe's verdict must be the one the run acted on, whichever it is.
    early = accel.open_device()
    if early is not None:  # /dev/kvm does not open: no test boot decides
        assert verdict == early
    if verdict.usable:
        assert recorded["accelerator"] == "kvm"
        assert recorded["accelerator_reason"] == "KVM works (test boot succeeded)"
        assert "accelerator: KVM unusable" not in run.stderr
    else:
        assert recorded["accelerator"] == "tcg"
        assert recorded["accelerator_reason"] == (
            f"KVM unusable ({verdict.kind}): {verdict.detail}; using TCG"
        )
        assert run.stderr.count("accelerator: KVM unusable") == 1  # one line saying why
    forced = run_cli("bench", "linux", "--quick", "--accel", "kvm", "--benchmarks", "getpid",
                     "-o", str(tmp_path / "k.json"))  # fmt: skip
    if verdict.usable:
        assert forced.returncode == ExitCode.OK, forced.stderr
        assert store.load(tmp_path / "k.json").data["setup"]["accelerator"] == "kvm"
    else:
        assert forced.returncode == ExitCode.KVM_FAILED
        assert f"KVM was requested but does not work here: {verdict.detail}" in forced.stderr


def test_an_error_between_boots_keeps_the_boots_already_measured(tmp_path: Path) -> None:
    from ci_tools.bench import run
    from ci_tools.boot import qemu
    from ci_tools.errors import SetupError

    calls: list[int] = []

    def boot_then_fail(spec: qemu.GuestSpec, **kwargs: object) -> qemu.BootOutcome:
        calls.append(1)
        if len(calls) == 2:
            raise SetupError("host port 20022 is already in use by pid 1 (init)")
        return qemu.boot(spec, **kwargs)  # type: ignore[arg-type]

    out = tmp_path / "r.json"
    target = run.GuestTarget(name="linux", kernel=provision.ensure_guest_kernel())
    options = run.BenchOptions(quick=True, boots=3, accel="tcg", benchmarks=("getpid",),
                                 mode=qemu.Mode.WALLCLOCK, output=out)  # fmt: skip
    with pytest.raises(SetupError, match="already in use"):
        run.run_guest(target, options, boot_fn=boot_then_fail)
    result = store.load(out)
    assert result.status.kind.value == "harness-error" and "boot 2 of 3" in result.status.reason
    assert len(result.samples("getpid")) == 1  # boot 1's sample survived
    assert [b["status"]["kind"] for b in result.data["boots"]] == ["complete", "harness-error"]


def test_no_pseudo_terminals_is_a_setup_error(tmp_path: Path) -> None:
    """A chroot or container without /dev/pts: a named set-up error with the fix,
    not a traceback (exit 20)."""
    out = tmp_path / "nopty.json"
    # Only this namespace's /dev/pts is hidden (made private first, so nothing
    # propagates back); --propagation unchanged also works inside a chroot.
    script = (
        "mount --make-private /dev/pts && mount -t tmpfs none /dev/pts && "
        'exec "$0" -m ci_tools bench linux --quick --benchmarks getpid --accel tcg -o "$1"'
    )
    # As another user than root, a user namespace of its own makes the mount allowed.
    as_user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    run = subprocess.run(
        ["unshare", *as_user, "--mount", "--propagation", "unchanged", "sh", "-c", script,
         sys.executable, str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == ExitCode.SETUP, run.stderr
    assert "cannot open a pseudo-terminal" in run.stderr
    assert "mount -t devpts devpts /dev/pts" in run.stderr
    assert "Traceback" not in run.stderr
