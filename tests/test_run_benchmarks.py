"""benchmarks/run-benchmarks.py maps Kevlar's familiar commands onto ci_tools."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from conftest import REPO

spec = importlib.util.spec_from_file_location(
    "run_benchmarks", REPO / "benchmarks" / "run-benchmarks.py"
)
assert spec and spec.loader
run_benchmarks = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_benchmarks)
PY = [sys.executable, "-m"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--profile", "balanced", "--quick"],
         ["ci_tools", "bench", "profile", "balanced", "--quick"]),
        (["linux", "--binary", "./bench"], ["ci_tools", "bench", "linux", "--binary", "./bench"]),
        (["compare", "a.json", "b.json"], ["ci_tools", "compare", "--plain", "a.json", "b.json"]),
        (["all-profiles", "--quick"], ["nox", "-s", "bench-all", "--", "--quick"]),
    ],
)  # fmt: skip
def test_translation(argv: list[str], expected: list[str]) -> None:
    assert run_benchmarks.translate(argv) == PY + expected


def test_unknown_command_and_missing_profile_fail() -> None:
    with pytest.raises(SystemExit, match="unknown command"):
        run_benchmarks.translate(["frobnicate"])
    with pytest.raises(SystemExit, match="--profile NAME is required"):
        run_benchmarks.translate(["run"])
