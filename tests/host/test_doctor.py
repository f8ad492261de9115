"""`python -m ci_tools doctor` describes the machine and names each fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ci_tools.boot import accel
from ci_tools.build import linux_guest
from ci_tools.errors import ExitCode

from conftest import REPO


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ci_tools", "doctor"], capture_output=True,
                          text=True, cwd=REPO, env=env, timeout=120)  # fmt: skip


def _bare_path(tmp_path: Path) -> str:
    """A PATH with nothing on it: no QEMU, no musl-gcc.  (The interpreter's own
    folder will not do: for /usr/bin/python3 it is /usr/bin, which holds QEMU.)"""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    return str(empty)


def test_missing_tools_are_problems_with_their_install_command(tmp_path: Path) -> None:
    run = doctor({**os.environ, "PATH": _bare_path(tmp_path), "GITHUB_ACTIONS": ""})
    assert run.returncode == ExitCode.SETUP
    assert "qemu-system-x86_64 is not installed" in run.stdout
    assert "(fix: apt-get install --no-install-recommends qemu-system-x86)" in run.stderr
    assert "musl-gcc is not installed" in run.stdout
    # Every check ran, even after the first problem.
    for check in ("QEMU", "KVM", "C compiler", "guest kernel", "Rust", "stale VMs"):
        assert check in run.stdout


@pytest.mark.integration
def test_doctor_on_this_machine() -> None:
    run = doctor({**os.environ, "GITHUB_ACTIONS": ""})
    assert run.returncode == ExitCode.OK, run.stdout + run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line.strip()}
    assert re.search(r"\bQEMU\b.*\d+\.\d+", lines["QEMU"]), lines["QEMU"]
    kvm = next(line for line in run.stdout.splitlines() if line.startswith("KVM"))
    # The verdict doctor shows is the machine's (cached) one, whichever it is.
    verdict = accel.kvm_verdict(linux_guest.find_linux_kernel())
    if verdict.usable:
        assert f"ok       {verdict.detail}" in kvm and "unusable" not in kvm
    else:
        assert f"ok       unusable ({verdict.kind}): " in kvm  # the detail is wrapped


def test_problems_become_annotations_in_github_actions(tmp_path: Path) -> None:
    summary = os.path.join(str(tmp_path), "summary.md")
    env = {**os.environ, "PATH": _bare_path(tmp_path), "GITHUB_ACTIONS": "true",
           "GITHUB_STEP_SUMMARY": summary}  # fmt: skip
    run = doctor(env)
    assert "::error::doctor: QEMU: qemu-system-x86_64 is not installed" in run.stderr
    with open(summary) as fh:
        assert "| QEMU" in fh.read()
