"""``python -m ci_tools doctor``: what this machine can do, and how to fix what it can't.

Every check runs (one problem never hides the next); each prints one line,
and each problem comes with its fix.  In GitHub Actions problems are also
annotations, and the whole report goes to the job summary.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate

from ci_tools import config, output
from ci_tools.boot import accel, qemu, vms
from ci_tools.build import linux_guest, toolchain
from ci_tools.errors import CiToolsError, ExitCode
from ci_tools.host import provision
from ci_tools.util import proc


@dataclass(frozen=True, kw_only=True)
class Finding:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def _qemu() -> Finding:
    binary = proc.which(qemu.QEMU)
    return Finding(check="QEMU", ok=True, detail=f"{qemu.qemu_version(binary)} ({binary})")


def _guest_kernel() -> Finding:
    return Finding(check="guest kernel", ok=True, detail=str(linux_guest.find_linux_kernel()))


def _kvm() -> Finding:
    try:
        kernel = linux_guest.find_linux_kernel()
    except CiToolsError:
        kernel = None
    if kernel is None:
        verdict = accel.open_device()  # no kernel to test-boot: the device check only
        if verdict is None:
            return Finding(check="KVM", ok=True, detail="/dev/kvm opens; not test-booted "
                           "(no guest kernel)", fix=linux_guest.FETCH_HINT)  # fmt: skip
    else:
        verdict = accel.kvm_verdict(kernel)
    if verdict.usable:
        return Finding(check="KVM", ok=True, detail=verdict.detail)
    # Not a problem for ci_tools: it falls back to TCG.  Say so, with the fix if any.
    fix = accel.UDEV_FIX if verdict.kind == "no-permission" else ""
    return Finding(check="KVM", ok=True, detail=f"unusable ({verdict.kind}): {verdict.detail}; "
                   "guests run under TCG", fix=fix)  # fmt: skip


def _c_compiler() -> Finding:
    compiler = proc.which("musl-gcc")
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "t.c"
        source.write_text("#include <unistd.h>\nint main(void){return getpid()<0;}\n")
        proc.run([compiler, "-static", "-o", str(Path(tmp) / "t"), str(source)], quiet=True)
    return Finding(check="C compiler", ok=True, detail=f"{compiler} builds static binaries")


def _rust() -> Finding:
    if not config.default_path().exists():
        return Finding(check="Rust", ok=True, detail=f"no {config.DEFAULT_FILE} here: not checked")
    cfg = config.load()
    found = toolchain.resolve(cfg)
    return Finding(check="Rust", ok=True, detail=f"{found.describe()} for every profile")


def _stale_vms() -> Finding:
    runtime = vms.runtime_dir()
    swept = vms.sweep(runtime)  # leftovers of harnesses and VMs that are both gone
    stale: list[int] = []
    live: list[int] = []
    for folder in sorted(runtime.glob(f"{vms.VM_NAME_PREFIX}*")):
        pid = vms.running_qemu(folder)
        if pid is None:
            continue
        (stale if vms.stale_vm(pid, runtime) else live).append(pid)
    cleaned = f"; removed {swept} leftover folder(s)" if swept else ""
    if stale:
        return Finding(check="stale VMs", ok=False,
                       detail=f"QEMU processes left by dead ci_tools runs: {stale}{cleaned}",
                       fix=f"kill {' '.join(map(str, stale))}")  # fmt: skip
    return Finding(
        check="stale VMs", ok=True, detail=f"none ({len(live)} running VM(s) of ours){cleaned}"
    )


CHECKS: list[tuple[str, Callable[[], Finding]]] = [
    ("QEMU", _qemu),
    ("KVM", _kvm),
    ("C compiler", _c_compiler),
    ("guest kernel", _guest_kernel),
    ("Rust", _rust),
    ("stale VMs", _stale_vms),
]


def run_checks() -> list[Finding]:
    findings = []
    for name, check in CHECKS:
        try:
            findings.append(check())
        except CiToolsError as exc:
            findings.append(Finding(check=name, ok=False, detail=exc.message, fix=exc.hint or ""))
        except (OSError, subprocess.SubprocessError) as exc:
            findings.append(Finding(check=name, ok=False, detail=str(exc)))
    return findings


def main() -> int:
    findings = run_checks()
    rows = [[f.check, "ok" if f.ok else "PROBLEM", f.detail, f.fix] for f in findings]
    print(tabulate(rows, headers=["check", "state", "detail", "fix"], tablefmt="simple",
                   maxcolwidths=[None, None, 70, 50]))  # fmt: skip
    for f in findings:
        if not f.ok:
            output.error(f"doctor: {f.check}: {f.detail}" + (f" (fix: {f.fix})" if f.fix else ""))
    output.append_summary(
        "### ci_tools doctor\n\n"
        + tabulate(rows, headers=["check", "state", "detail", "fix"], tablefmt="github")
    )
    missing = provision.missing_packages()
    if missing and shutil.which("apt-get"):
        output.info(f"install the missing packages: python -m ci_tools setup (needs root): "
                    f"{', '.join(missing)}")  # fmt: skip
    return ExitCode.OK if all(f.ok for f in findings) else ExitCode.SETUP
