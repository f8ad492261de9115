"""End to end: two real deterministic-mode runs of the Linux guest, compared.

Four benchmarks (two stable, two that depend on the boot's layout) and six
boots a side keep it near two minutes: six boots are the fewest with which
the U test can reach alpha / 4 (``stats.boots_needed(4, 0.01)``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_tools.compare import stats
from ci_tools.host import provision
from ci_tools.results import store

from guest import run_cli

pytestmark = pytest.mark.integration

BENCHMARKS = "getpid,stat,pipe,mmap_fault"
BOOTS = stats.boots_needed(4, 0.01)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    provision.ensure_guest_kernel()
    folder = tmp_path_factory.mktemp("compare")
    paths = (folder / "base.json", folder / "head.json")
    for out in paths:
        run = run_cli("bench", "linux", "--mode", "deterministic", "--boots", str(BOOTS),
                      "--benchmarks", BENCHMARKS, "-o", str(out), timeout=600)  # fmt: skip
        assert run.returncode == 0, run.stderr
    return paths


def scaled(source: Path, out: Path, benchmark: str, factor: float) -> Path:
    document = json.loads(source.read_text())
    for s in document["benchmarks"][benchmark]["samples"]:
        s["total_ns"] = round(s["total_ns"] * factor)
        s["per_iter_ns"] = s["total_ns"] // s["iterations"]
    store.save(document, out)
    return out


def test_same_kernel_is_no_regression(runs: tuple[Path, Path]) -> None:
    base, head = runs
    run = run_cli("compare", str(base), str(head))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 regression(s)" in run.stdout


def test_getpid_ten_percent_slower_is_the_only_regression(
    runs: tuple[Path, Path], tmp_path: Path
) -> None:
    base, head = runs
    slow = scaled(head, tmp_path / "head-getpid-x1.10.json", "getpid", 1.10)
    md = tmp_path / "compare.md"
    run = run_cli("compare", str(base), str(slow), "--markdown", str(md))
    assert run.returncode == 1, run.stdout + run.stderr
    flagged = [line.split()[0] for line in run.stdout.splitlines() if "REGRESSION" in line]
    assert flagged == ["getpid"]
    assert "1 regression(s)" in run.stdout
    assert md.read_text().count("**REGRESSION**") == 1


def test_wallclock_run_is_refused(runs: tuple[Path, Path], tmp_path: Path) -> None:
    base, _ = runs
    wall = tmp_path / "wall.json"
    run = run_cli("bench", "linux", "--mode", "wallclock", "--benchmarks", BENCHMARKS,
                  "-o", str(wall), timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr
    run = run_cli("compare", str(base), str(wall))
    assert run.returncode == 3
    assert "mode differs: base.json deterministic, wall.json wallclock" in run.stderr
