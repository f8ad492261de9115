"""ruff and mypy --strict pass, so CI enforces the style the lint session checks."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_ruff_check() -> None:
    result = run("ruff", "check", "ci_tools", "tests", "benchmarks", "noxfile.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = run("ruff", "format", "--check", "ci_tools", "tests", "benchmarks", "noxfile.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
