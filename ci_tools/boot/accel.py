"""Choose the accelerator: KVM only when a test boot shows that it works.

``/dev/kvm`` existing proves nothing: on nested-virtualisation hosts (hosted
CI runners, these machines) it opens, and then guests hang after "Booting
from ROM" or QEMU aborts with ``failed to set MSR``.  So ``auto`` probes:
open /dev/kvm read-write, then boot the guest kernel under KVM for a few
seconds and look for its first words.  The verdict is cached per machine
boot for an hour.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ci_tools import output
from ci_tools.boot.console import Ending, Limits, read_console
from ci_tools.boot.outcome import KVM_FAILURE
from ci_tools.boot.qemu import qemu_binary, qemu_version
from ci_tools.errors import BadInputError, ExitCode, RunFailed
from ci_tools.util import locks
from ci_tools.util.files import write_atomic
from ci_tools.util.paths import cache_dir

KVM_DEVICE = Path("/dev/kvm")
PROBE_SECONDS = 8.0
CACHE_SECONDS = 3600
UDEV_FIX = (
    'on GitHub-hosted runners: echo \'KERNEL=="kvm", GROUP="kvm", MODE="0666", '
    'OPTIONS+="static_node=kvm"\' | sudo tee /etc/udev/rules.d/99-kvm4all.rules && '
    "sudo udevadm control --reload-rules && sudo udevadm trigger --name-match=kvm; "
    "elsewhere add this user to the kvm group"
)


@dataclass(frozen=True, kw_only=True)
class KvmVerdict:
    usable: bool
    kind: str  # usable | absent | no-permission | qemu-aborts | guest-hangs
    detail: str


def open_device() -> KvmVerdict | None:
    """None when /dev/kvm opens read-write, else the verdict that says why not."""
    try:
        fd = os.open(KVM_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return KvmVerdict(usable=False, kind="absent", detail="/dev/kvm does not exist")
    except PermissionError:
        return KvmVerdict(
            usable=False,
            kind="no-permission",
            detail=f"/dev/kvm exists but this user cannot open it read-write; fix: {UDEV_FIX}",
        )
    except OSError as exc:
        return KvmVerdict(
            usable=False,
            kind="absent",
            detail=f"/dev/kvm cannot be opened: {errno.errorcode.get(exc.errno or 0, exc)}",
        )
    os.close(fd)
    return None


def probe_kvm(kernel: Path, *, seconds: float = PROBE_SECONDS) -> KvmVerdict:
    """Open /dev/kvm, then test-boot ``kernel`` under KVM for at most ``seconds``."""
    verdict = open_device()
    if verdict is not None:
        return verdict
    argv = [
        qemu_binary(), "-accel", "kvm", "-cpu", "host", "-m", "256",
        "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
        "-monitor", "none", "-no-reboot", "-kernel", str(kernel),
        "-append", "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1 loglevel=7",
    ]  # fmt: skip
    with locks.scratch_dir(cache_dir("tmp"), "kvm-probe-") as scratch:
        run = read_console(
            argv,
            log=io.BytesIO(),
            limits=Limits(timeout=seconds, silence_timeout=seconds, grace_after_end=0),
            stderr_path=scratch / "qemu.stderr",
            end_marker="Linux version",
        )
    if run.saw_end:
        return KvmVerdict(usable=True, kind="usable", detail="a KVM test boot reached the kernel")
    last = " | ".join(run.stderr.strip().splitlines()[-2:])
    if run.ending in (Ending.SILENT, Ending.TIMEOUT):
        return KvmVerdict(
            usable=False,
            kind="guest-hangs",
            detail=f"a KVM test boot printed no kernel output within {seconds:g} s "
            "(typical of nested virtualisation)",
        )
    if KVM_FAILURE.search(run.stderr) or run.exit_status not in (0, None):
        return KvmVerdict(
            usable=False,
            kind="qemu-aborts",
            detail=f"QEMU aborted under KVM: {last or 'no message'}",
        )
    return KvmVerdict(
        usable=False, kind="guest-hangs", detail="the KVM test boot ended without output"
    )


def _cache_key(kernel: Path) -> str:
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    stat = KVM_DEVICE.stat() if KVM_DEVICE.exists() else None
    material = (
        f"{boot_id}|{qemu_version(qemu_binary())}|{kernel}|{stat and stat.st_ino}|{os.getuid()}"
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def kvm_verdict(kernel: Path) -> KvmVerdict:
    """``probe_kvm``, cached per machine boot, QEMU version and user for an hour."""
    early = open_device()
    if early is not None:
        return early
    path = cache_dir("kvm-probe") / f"{_cache_key(kernel)}.json"
    cached = _cached_verdict(path)
    if cached is not None:
        return cached
    # One test boot for all the runs starting at once: the others wait for its verdict.
    waiting = "waiting for the KVM test boot of another ci_tools run"
    with locks.exclusive(path.with_suffix(".lock"), waiting=waiting):
        cached = _cached_verdict(path)
        if cached is not None:
            return cached
        output.phase(f"probing KVM with a {PROBE_SECONDS:g} s test boot")
        verdict = probe_kvm(kernel)
        write_atomic(path, json.dumps({"time": time.time(), "verdict": asdict(verdict)}))
    return verdict


def _cached_verdict(path: Path) -> KvmVerdict | None:
    try:
        cached = json.loads(path.read_text())
        if time.time() - cached["time"] < CACHE_SECONDS:
            return KvmVerdict(**cached["verdict"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def choose(requested: str, kernel: Path) -> tuple[str, str]:
    """(accelerator, one-line reason) for a guest run."""
    if requested == "tcg":
        return "tcg", "TCG requested (--accel tcg)"
    if requested not in ("auto", "kvm"):
        raise BadInputError(
            f"unknown accelerator {requested!r}", hint="use --accel auto, kvm or tcg"
        )
    verdict = kvm_verdict(kernel)
    if verdict.usable:
        return "kvm", "KVM works (test boot succeeded)"
    if requested == "kvm":
        raise RunFailed(
            f"KVM was requested but does not work here: {verdict.detail}",
            exit_code=ExitCode.KVM_FAILED,
            hint="use --accel auto (falls back to TCG) or --accel tcg",
        )
    reason = f"KVM unusable ({verdict.kind}): {verdict.detail}; using TCG"
    output.info(f"accelerator: {reason}")
    return "tcg", reason
