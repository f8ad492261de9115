"""Runs laid out as series: git order, pooled commits, setups that split, the keys."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from ci_tools.history import series
from ci_tools.history.record import Fingerprint, SeriesKey, kernel_under_test
from ci_tools.results.model import Result

import history_fake as hf
from conftest import FIXTURES


def _run(commit: str, parents: tuple[str, ...], date: str) -> series.Run:
    result = hf.run("fortress", hf.commits(1)[0], rng=None)  # type: ignore[arg-type]
    return series.Run(commit=commit, parents=parents, date=date, subject="", result=result)


def test_git_order_puts_parents_first_whatever_the_dates() -> None:
    """A merge: b and c both on a; d merges them.  c's date is the earliest of all."""
    runs = [
        _run("d", ("b", "c"), "2026-09-04T00:00:00+00:00"),
        _run("c", ("a",), "2026-08-01T00:00:00+00:00"),
        _run("b", ("a",), "2026-09-02T00:00:00+00:00"),
        _run("a", (), "2026-09-01T00:00:00+00:00"),
    ]
    assert series.git_order(runs) == ["a", "c", "b", "d"]


def test_a_gap_in_the_history_is_ordered_by_date() -> None:
    runs = [_run("z", ("y",), "2026-09-03T00:00:00+00:00"),
            _run("x", ("w",), "2026-09-01T00:00:00+00:00")]  # fmt: skip
    assert series.git_order(runs) == ["x", "z"]


def test_runs_of_one_commit_are_pooled_and_the_same_file_counts_once() -> None:
    records = hf.history(n=4, profiles=("fortress",))
    again = dataclasses.replace(records[1], recorded_at="2026-12-01T00:00:00+00:00")
    doc = json.loads(json.dumps(records[1].result.data))
    doc["provenance"]["started_at"] = "2026-09-09T00:00:00+00:00"  # a second run
    rerun = dataclasses.replace(records[1], result=Result(doc))
    laid_out = series.build([series.Run.of(r) for r in [*records, again, rerun]])
    assert [len(p.runs) for p in laid_out[0].points] == [1, 2, 1, 1]
    assert len(laid_out[0].points[1].values("trap")) == 8  # 4 boots of each run


def test_the_kernel_under_test_is_not_part_of_the_series_key() -> None:
    demo = hf.run("fortress", hf.commits(1)[0], rng=None)  # type: ignore[arg-type]
    assert kernel_under_test(demo) and SeriesKey.of(demo).guest_kernel is None
    linux = Result(json.loads((FIXTURES / "results" / "profile-fortress.json").read_text()))
    assert not kernel_under_test(linux)
    assert SeriesKey.of(linux).guest_kernel == linux.target.kernel_sha256
    # ... but it is part of the fingerprint a reused baseline must match.
    assert Fingerprint.of(demo).kernel_sha256 == demo.target.kernel_sha256


def test_another_iteration_count_starts_another_series() -> None:
    records = hf.history(n=6, profiles=("fortress",))
    doc = json.loads(json.dumps(records[5].result.data))
    for s in doc["benchmarks"]["trap"]["samples"]:
        s["iterations"] *= 10
        s["total_ns"] *= 10
    changed = dataclasses.replace(records[5], result=Result(doc, Path("full.json")))
    laid_out = series.build([series.Run.of(r) for r in [*records[:5], changed]])
    assert [len(s.points) for s in laid_out] == [5, 1]
    assert laid_out[1].changed[0].startswith("iteration counts: trap 2000")


def test_the_order_of_a_files_benchmarks_is_not_a_setup() -> None:
    """A run as the harness wrote it (run order) and as stored (keys sorted) are one
    series, and a stored run stands in for a fresh one (bench-pr's reused baselines)."""
    record = hf.history(n=1, profiles=("fortress",))[0]
    doc = json.loads(json.dumps(record.result.data))
    doc["benchmarks"] = dict(reversed(list(doc["benchmarks"].items())))
    reordered = Result(doc, Path("reordered.json"))
    assert list(reordered.benchmark_names()) != list(record.result.benchmark_names())
    assert SeriesKey.of(reordered) == SeriesKey.of(record.result)
    assert Fingerprint.of(reordered).differences(Fingerprint.of(record.result)) == []


def test_a_changed_iteration_count_names_only_that_benchmark() -> None:
    record = hf.history(n=1, profiles=("fortress",))[0]
    doc = json.loads(json.dumps(record.result.data))
    for s in doc["benchmarks"]["trap"]["samples"]:
        s["iterations"] *= 10
    differences = SeriesKey.of(record.result).differences(SeriesKey.of(Result(doc, None)))
    assert differences == ["iteration counts: trap 2000 -> trap 20000"]
