"""Helpers for the integration tests that boot real guests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ci_tools.boot.vms import VM_NAME_PREFIX
from ci_tools.util import proc

REPO = Path(__file__).resolve().parent.parent


def build_c(source: Path, out_dir: Path) -> Path:
    binary = out_dir / source.stem
    proc.run(["musl-gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(binary),
              str(source)], quiet=True)  # fmt: skip
    return binary


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m ci_tools ARGS`` as a user runs it; stdout and stderr captured."""
    return subprocess.run(
        [sys.executable, "-m", "ci_tools", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, "GITHUB_ACTIONS": ""},
    )


def qemu_processes(name: str | None = None) -> dict[int, str]:
    """Live QEMU processes started by ci_tools (optionally: with this VM name)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or b"qemu-system" not in argv[0] or b"-name" not in argv:
            continue
        vm = argv[argv.index(b"-name") + 1].decode().split(",")[0]
        if vm.startswith(VM_NAME_PREFIX) and (name is None or vm == name):
            found[int(entry.name)] = vm
    return found


def vm_name(command: list[str]) -> str:
    return command[command.index("-name") + 1].split(",")[0]
