"""The KVM probe's classification, with a stand-in QEMU: a small script that prints
what QEMU prints when KVM works, when it aborts under KVM and when the guest hangs.
/dev/kvm itself is a path the test chooses (missing, a file that opens, one that
refuses read-write even to root)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from ci_tools.boot import accel
from ci_tools.errors import BadInputError, ExitCode, RunFailed

KERNEL = Path("/boot/vmlinuz-stand-in")  # the stand-in never reads it
# A read-only sysfs attribute: opening it read-write fails with EACCES, even as root.
READ_ONLY = Path("/sys/devices/system/cpu/online")

VERSION = 'if [ "$1" = --version ]; then echo "QEMU emulator version 8.2.2"; exit 0; fi\n'
WORKS = "printf '[    0.000000] Linux version 6.1.0 (gcc 12.2.0)\\r\\n'; sleep 30\n"
MSR = (
    "echo 'qemu-system-x86_64: error: failed to set MSR 0x48b to 0x1ffffff00000000' >&2\n"
    "echo 'qemu-system-x86_64: ../target/i386/kvm/kvm.c:3000: kvm_buf_set_msrs: Assertion "
    "`ret == cpu->kvm_msr_buf->nmsrs` failed.' >&2\n"
    "kill -ABRT $$\n"
)
NO_ACCESS = (
    "echo 'Could not access KVM kernel module: Permission denied' >&2\n"
    "echo 'qemu-system-x86_64: failed to initialize kvm: Permission denied' >&2\n"
    "exit 1\n"
)
OTHER_ERROR = "echo 'qemu-system-x86_64: -cpu host: unable to find CPU model' >&2\nexit 1\n"
HANGS = "printf 'SeaBIOS (version 1.16.2)\\r\\nBooting from ROM..\\r\\n'; sleep 30\n"
SILENT_EXIT = "exit 0\n"


def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """A QEMU that runs ``body``; /dev/kvm a file that opens read-write."""
    qemu = tmp_path / "stand-in-qemu"
    qemu.write_text("#!/bin/sh\n" + VERSION + body)
    qemu.chmod(qemu.stat().st_mode | stat.S_IXUSR)
    device = tmp_path / "kvm"
    device.write_text("")
    monkeypatch.setattr(accel, "KVM_DEVICE", device)
    monkeypatch.setattr(accel, "qemu_binary", lambda: str(qemu))
    monkeypatch.setenv("CI_TOOLS_CACHE", str(tmp_path / "cache"))
    return qemu


def test_a_test_boot_that_reaches_the_kernel_means_kvm_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, WORKS)
    verdict = accel.probe_kvm(KERNEL, seconds=20)
    assert (verdict.usable, verdict.kind) == (True, "usable")


@pytest.mark.parametrize(
    ("body", "last"),
    [
        (MSR, "kvm_buf_set_msrs: Assertion"),
        (NO_ACCESS, "failed to initialize kvm: Permission denied"),
        (OTHER_ERROR, "unable to find CPU model"),  # no KVM words, but QEMU exited 1
    ],
)
def test_qemu_failing_under_kvm_is_qemu_aborts_with_its_message(
    body: str, last: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, body)
    verdict = accel.probe_kvm(KERNEL, seconds=20)
    assert (verdict.usable, verdict.kind) == (False, "qemu-aborts")
    assert verdict.detail.startswith("QEMU aborted under KVM: ") and last in verdict.detail


def test_a_guest_that_prints_nothing_of_the_kernel_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, HANGS)
    verdict = accel.probe_kvm(KERNEL, seconds=1)
    assert (verdict.usable, verdict.kind) == (False, "guest-hangs")
    assert "no kernel output within 1 s" in verdict.detail


def test_a_test_boot_that_ends_quietly_is_not_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, SILENT_EXIT)
    verdict = accel.probe_kvm(KERNEL, seconds=20)
    assert verdict == accel.KvmVerdict(
        usable=False, kind="guest-hangs", detail="the KVM test boot ended without output"
    )


def test_missing_kvm_device_is_absent_without_a_test_boot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = stand_in(tmp_path, monkeypatch, 'echo started > "$0.ran"\n' + WORKS)
    monkeypatch.setattr(accel, "KVM_DEVICE", tmp_path / "no-such-kvm")
    verdict = accel.probe_kvm(KERNEL, seconds=20)
    assert verdict == accel.KvmVerdict(
        usable=False, kind="absent", detail="/dev/kvm does not exist"
    )
    assert not Path(f"{qemu}.ran").exists()


def test_kvm_device_without_read_write_access_is_no_permission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        os.close(os.open(READ_ONLY, os.O_RDWR))
    except PermissionError:
        pass
    else:  # pragma: no cover - a kernel whose sysfs lets this open
        pytest.skip(f"{READ_ONLY} opens read-write here")
    stand_in(tmp_path, monkeypatch, WORKS)
    monkeypatch.setattr(accel, "KVM_DEVICE", READ_ONLY)
    verdict = accel.probe_kvm(KERNEL, seconds=20)
    assert (verdict.usable, verdict.kind) == (False, "no-permission")
    assert "cannot open it read-write" in verdict.detail and accel.UDEV_FIX in verdict.detail


def test_kvm_device_that_is_no_device_is_absent_with_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, WORKS)
    monkeypatch.setattr(accel, "KVM_DEVICE", tmp_path)  # a directory: EISDIR
    verdict = accel.probe_kvm(KERNEL, seconds=20)
    assert verdict == accel.KvmVerdict(
        usable=False, kind="absent", detail="/dev/kvm cannot be opened: EISDIR"
    )


def test_the_verdict_is_cached_and_one_test_boot_serves_later_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = stand_in(tmp_path, monkeypatch, 'echo boot >> "$0.boots"\n' + WORKS)
    assert accel.kvm_verdict(KERNEL).kind == "usable"
    assert accel.kvm_verdict(KERNEL).kind == "usable"
    assert Path(f"{qemu}.boots").read_text() == "boot\n"
    [cached] = (tmp_path / "cache" / "kvm-probe").glob("*.json")
    assert '"kind": "usable"' in cached.read_text()


def test_an_expired_or_broken_cache_entry_is_probed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = stand_in(tmp_path, monkeypatch, 'echo boot >> "$0.boots"\n' + WORKS)
    accel.kvm_verdict(KERNEL)
    [cached] = (tmp_path / "cache" / "kvm-probe").glob("*.json")
    expired = {"time": 0, "verdict": {"usable": False, "kind": "absent", "detail": "old"}}
    cached.write_text(json.dumps(expired))
    assert accel.kvm_verdict(KERNEL).kind == "usable"
    cached.write_text('{"time": 1e12, "verdict": {"usable": true}}')  # a field missing
    assert accel.kvm_verdict(KERNEL).kind == "usable"
    assert Path(f"{qemu}.boots").read_text() == "boot\nboot\nboot\n"


def test_choose_uses_kvm_only_when_the_test_boot_worked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, WORKS)
    assert accel.choose("auto", KERNEL) == ("kvm", "KVM works (test boot succeeded)")
    assert accel.choose("kvm", KERNEL)[0] == "kvm"
    assert accel.choose("tcg", KERNEL) == ("tcg", "TCG requested (--accel tcg)")


def test_choose_falls_back_to_tcg_or_fails_when_kvm_does_not_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in(tmp_path, monkeypatch, NO_ACCESS)
    accelerator, reason = accel.choose("auto", KERNEL)
    assert accelerator == "tcg"
    assert reason.startswith("KVM unusable (qemu-aborts): QEMU aborted under KVM: ")
    assert reason.endswith("; using TCG")
    with pytest.raises(RunFailed, match="KVM was requested but does not work here") as failed:
        accel.choose("kvm", KERNEL)
    assert failed.value.exit_code is ExitCode.KVM_FAILED
    with pytest.raises(BadInputError, match="unknown accelerator 'hvf'"):
        accel.choose("hvf", KERNEL)


def test_the_test_boot_is_a_kvm_boot_of_the_kernel_on_the_serial_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    qemu = stand_in(tmp_path, monkeypatch, 'printf "%s\\n" "$@" > "$0.argv"\n' + WORKS)
    accel.probe_kvm(KERNEL, seconds=20)
    assert Path(f"{qemu}.argv").read_text().splitlines() == [
        "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-no-user-config",
        "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
        "-kernel", str(KERNEL),
        "-append", "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 loglevel=7",
    ]  # fmt: skip


def test_each_kernel_gets_its_own_cached_verdict_and_the_probe_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    qemu = stand_in(tmp_path, monkeypatch, 'echo "$@" >> "$0.boots"\n' + WORKS)
    accel.kvm_verdict(KERNEL)
    accel.kvm_verdict(Path("/boot/other"))
    accel.kvm_verdict(KERNEL)
    boots = Path(f"{qemu}.boots").read_text().splitlines()
    assert [b.split(" -kernel ")[1].split()[0] for b in boots] == [str(KERNEL), "/boot/other"]
    probe = tmp_path / "cache" / "kvm-probe"
    assert sorted(p.suffix for p in probe.iterdir()) == [".json", ".json", ".lock", ".lock"]
    assert all(len(p.stem) == 16 for p in probe.iterdir())
    assert capsys.readouterr().err.count("probing KVM with a 8 s test boot") == 2


def test_choose_says_how_to_fix_a_wrong_accelerator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stand_in(tmp_path, monkeypatch, NO_ACCESS)
    with pytest.raises(BadInputError) as bad:
        accel.choose("xen", KERNEL)
    assert bad.value.hint == "use --accel auto, kvm or tcg"
    with pytest.raises(RunFailed) as failed:
        accel.choose("kvm", KERNEL)
    assert failed.value.hint == "use --accel auto (falls back to TCG) or --accel tcg"
    capsys.readouterr()
    accelerator, reason = accel.choose("auto", KERNEL)
    assert accelerator == "tcg" and f"accelerator: {reason}" in capsys.readouterr().err
