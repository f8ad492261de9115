"""``compare``: verdicts on seeded synthetic samples, refusals, one-sided rows, exit codes.

Synthetic results are real fixture files (``tests/fixtures/results``) whose
samples are replaced by known distributions, so everything but the numbers
is what ``bench linux`` writes.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ci_tools.compare import calibration, decide, inputs, model
from ci_tools.compare.model import Verdict
from ci_tools.errors import BadInputError, ExitCode
from ci_tools.report import tables
from ci_tools.results import store
from ci_tools.results.model import Result

from conftest import FIXTURES, REPO, bimodal, make, noisy, suite

RESULTS = FIXTURES / "results"


def verdicts(c: model.Comparison) -> dict[str, Verdict]:
    return {r.benchmark: r.verdict for r in c.rows}


# --- verdicts ----------------------------------------------------------------------------


def test_a_a_tables_of_a_realistic_suite_raise_no_alarm() -> None:
    rng = np.random.default_rng(100)
    for _ in range(40):
        c = decide.compare_results(
            [make(suite(rng, 8), name="base.json"), make(suite(rng, 8), name="head.json")]
        )
        assert c.count(Verdict.REGRESSION) == 0
        assert c.exit_code in (ExitCode.OK, ExitCode.INCONCLUSIVE)


def test_identical_runs_are_no_change_exit_0() -> None:
    values = suite(np.random.default_rng(1), 8)
    c = decide.compare_results([make(values, name="a.json"), make(values, name="b.json")])
    assert set(verdicts(c).values()) == {Verdict.NO_CHANGE}
    assert c.exit_code is ExitCode.OK
    assert all(r.ratio == pytest.approx(1.0) for r in c.rows)


def test_ten_percent_on_one_stable_benchmark_is_that_regression_only() -> None:
    rng = np.random.default_rng(2)
    base = make(suite(rng, 8), name="base.json")
    head = make(suite(rng, 8, {"getpid": 1.10}), name="head.json")
    c = decide.compare_results([base, head])
    v = verdicts(c)
    assert v.pop("getpid") is Verdict.REGRESSION
    assert Verdict.REGRESSION not in v.values()
    assert c.exit_code is ExitCode.REGRESSION
    row = next(r for r in c.rows if r.benchmark == "getpid")
    assert row.ratio == pytest.approx(1.10, abs=0.002)
    assert row.ci is not None and row.ci[0] > 1 + row.threshold
    assert row.reason.startswith("slower by 10.0% (at least ")


def test_slowdown_of_a_bimodal_benchmark_beyond_its_mode_gap_is_caught() -> None:
    rng = np.random.default_rng(3)
    c = decide.compare_results(
        [make(suite(rng, 16), name="b.json"), make(suite(rng, 16, {"pipe": 1.15}), name="h.json")]
    )
    assert verdicts(c)["pipe"] is Verdict.REGRESSION
    row = next(r for r in c.rows if r.benchmark == "pipe")
    assert row.ratio == pytest.approx(1.15, abs=0.01)


def test_slowdown_inside_the_mode_gap_is_inconclusive_not_no_change() -> None:
    """9 % inside an 11 % layout gap: the rank test cannot confirm it with 10 boots; HL sees it."""
    rng = np.random.default_rng(0)
    c = decide.compare_results(
        [make({"pipe": bimodal(rng, 10)}, name="b.json"),
         make({"pipe": bimodal(rng, 10, 1.09)}, name="h.json")]
    )  # fmt: skip
    row = c.rows[0]
    assert row.ratio == pytest.approx(1.09, abs=0.005)
    assert row.ci is not None and row.ci[0] < 1 + row.threshold < row.ci[1]
    assert row.verdict is Verdict.INCONCLUSIVE
    assert "slower by 9." in row.reason and "more boots would tell" in row.reason
    assert c.exit_code is ExitCode.INCONCLUSIVE


def test_improvement() -> None:
    rng = np.random.default_rng(4)
    c = decide.compare_results(
        [make(suite(rng, 16), name="b.json"), make(suite(rng, 16, {"stat": 0.8}), name="h.json")]
    )
    assert verdicts(c)["stat"] is Verdict.IMPROVEMENT
    assert c.exit_code is ExitCode.OK


def test_a_slowdown_shown_within_the_threshold_is_no_change_but_visible() -> None:
    rng = np.random.default_rng(5)
    c = decide.compare_results(
        [make(suite(rng, 8), name="b.json"), make(suite(rng, 8, {"getpid": 1.01}), name="h.json")],
        min_effects={"default": 0.03},
    )
    row = next(r for r in c.rows if r.benchmark == "getpid")
    assert row.ci is not None and row.ci[0] > 1 and row.ci[1] < 1.03  # real, but only 1 %
    assert row.verdict is Verdict.NO_CHANGE and row.shown_slower
    assert row.reason == "slower by 1.0% shown, within the 3.0% threshold"
    assert row.threshold_source == "config"
    assert "(1 slower within the threshold)" in c.summary
    top = tables.comparison_markdown(c).split("<details>")[0]
    assert "| `getpid`" in top and "| `stat`" not in top  # in sight, not folded away


def test_interval_straddling_the_threshold_is_inconclusive() -> None:
    rng = np.random.default_rng(6)
    base = {"fork_exit": noisy(rng, 10, 100_000, 0.01)}
    head = {"fork_exit": noisy(rng, 10, 104_000, 0.01)}
    c = decide.compare_results(
        [make(base, name="b.json"), make(head, name="h.json")], min_effects={"default": 0.03}
    )
    row = c.rows[0]
    assert row.verdict is Verdict.INCONCLUSIVE, row
    assert row.ci is not None and row.ci[0] < 1 + row.threshold < row.ci[1]
    assert "more boots would tell" in row.reason
    assert c.exit_code is ExitCode.INCONCLUSIVE


def test_too_few_boots_is_inconclusive_and_says_how_many() -> None:
    rng = np.random.default_rng(7)
    c = decide.compare_results(
        [make(suite(rng, 3), name="b.json"), make(suite(rng, 3, {"getpid": 2.0}), name="h.json")]
    )
    assert set(verdicts(c).values()) == {Verdict.INCONCLUSIVE}
    assert "too few boots (3 vs 3)" in c.rows[0].reason
    assert "6 a side would be needed (--boots 6)" in c.rows[0].reason
    assert c.exit_code is ExitCode.INCONCLUSIVE


def test_rounds_are_not_replicates() -> None:
    # One boot with many rounds per side: layout effects cannot be told from a change.
    base = make({"getpid": [345.0]}, name="b.json", rounds=20)
    head = make({"getpid": [400.0]}, name="h.json", rounds=20)
    c = decide.compare_results([base, head])
    assert c.rows[0].verdict is Verdict.INCONCLUSIVE
    assert c.rows[0].base is not None and c.rows[0].base.samples == 20


def test_the_whole_table_shares_alpha() -> None:
    """A row shown slower on its own is not once fifteen more rows share the error budget."""
    base_vals = [1000.0, 1000.1, 1000.2, 1000.3, 1000.4, 1000.5, 1000.6, 1000.7]
    head_vals = [1000.35] + [v * 1.05 for v in base_vals[1:]]  # one head boot is not slower
    alone = decide.compare_results(
        [make({"x": base_vals}, name="b.json"), make({"x": head_vals}, name="h.json")],
        min_effects={"default": 0.03},
    )
    row = alone.rows[0]
    assert alone.family == 1 and alone.confidence == pytest.approx(0.98)
    assert row.verdict is Verdict.REGRESSION
    flat = [1000.0 + i / 10 for i in range(8)]
    crowd = {"x": base_vals, **{f"n{i}": flat for i in range(15)}}
    crowd_head = {"x": head_vals, **{f"n{i}": flat for i in range(15)}}
    many = decide.compare_results(
        [make(crowd, name="b.json"), make(crowd_head, name="h.json")],
        min_effects={"default": 0.03},
    )
    row = next(r for r in many.rows if r.benchmark == "x")
    assert many.family == 16 and many.confidence == pytest.approx(1 - 2 * 0.01 / 16)
    assert row.ci is not None and row.ci[0] < 1.03 < row.ci[1]  # wider: 16 rows share alpha
    assert row.verdict is Verdict.INCONCLUSIVE  # estimated +5 %, no longer shown
    assert many.count(Verdict.REGRESSION) == 0


def test_min_effect_per_benchmark_and_default() -> None:
    rng = np.random.default_rng(8)
    base = make(suite(rng, 8), name="b.json")
    head = make(suite(rng, 8, {"getpid": 1.05, "stat": 1.05}), name="h.json")
    c = decide.compare_results([base, head], min_effects={"default": 0.02, "getpid": 0.10})
    v = verdicts(c)
    assert v["getpid"] is Verdict.NO_CHANGE  # 5 % < its 10 % minimum
    assert v["stat"] is Verdict.REGRESSION
    row = next(r for r in c.rows if r.benchmark == "stat")
    assert row.min_effect == 0.02


def test_default_minimum_effect_is_1_percent_deterministic_25_percent_wallclock() -> None:
    # README: "else 1 % in deterministic mode and 25 % in wall-clock mode".
    assert decide.min_effect_for("x", None, "deterministic") == 0.01
    assert decide.min_effect_for("x", None, "wallclock") == 0.25
    base = {"getpid": [345.0] * 8}

    def verdict(factor: float, setup: dict[str, str] | None) -> Verdict:
        b = make(base, name="b.json", setup=setup)
        h = make({"getpid": [345.0 * factor] * 8}, name="h.json", setup=setup)
        floors = {"getpid": 0.001} if setup else None  # a calibration, far below the minimum
        return verdicts(decide.compare_results([b, h], noise_floors=floors))["getpid"]

    assert verdict(1.10, None) is Verdict.REGRESSION
    assert verdict(1.10, WALL) is Verdict.NO_CHANGE
    assert verdict(1.30, WALL) is Verdict.REGRESSION


def test_stored_noise_floor_raises_the_threshold() -> None:
    rng = np.random.default_rng(9)
    base = make(suite(rng, 8), name="b.json")
    head = make(suite(rng, 8, {"getpid": 1.10}), name="h.json")
    c = decide.compare_results([base, head], noise_floors={"getpid": 0.20})
    row = next(r for r in c.rows if r.benchmark == "getpid")
    assert row.threshold == pytest.approx(0.20)
    assert row.verdict is Verdict.NO_CHANGE


def test_noise_floor_of_a_noisy_benchmark_beats_its_minimum() -> None:
    rng = np.random.default_rng(10)
    c = decide.compare_results(
        [make(suite(rng, 10), name="b.json"), make(suite(rng, 10), name="h.json")]
    )
    row = next(r for r in c.rows if r.benchmark == "mmap_fault")
    assert row.noise_floor is not None and row.noise_floor > row.min_effect


# --- several files and pairs ------------------------------------------------------------------


def test_three_files_each_against_the_first_one_family() -> None:
    rng = np.random.default_rng(11)
    base = make(suite(rng, 8), name="base.json")
    same = make(suite(rng, 8), name="same.json")
    slow = make(suite(rng, 8, {"read_null": 1.2}), name="slow.json")
    c = decide.compare_results([base, same, slow])
    assert c.pairs == (("base.json", "same.json"), ("base.json", "slow.json"))
    assert c.family == 16
    flagged = [(r.head_label, r.benchmark) for r in c.rows if r.verdict is Verdict.REGRESSION]
    assert flagged == [("slow.json", "read_null")]


def test_pairs_of_a_profile_matrix() -> None:
    rng = np.random.default_rng(12)
    pairs = [
        (
            make(suite(rng, 8), name=f"{p}.base.json"),
            make(suite(rng, 8, slow), name=f"{p}.head.json"),
        )
        for p, slow in (("fortress", {"pipe": 1.3}), ("balanced", {}))
    ]
    c = decide.compare_pairs(pairs)
    assert c.family == 16
    flagged = [(r.base_label, r.benchmark) for r in c.rows if r.verdict is Verdict.REGRESSION]
    assert flagged == [("fortress.base.json", "pipe")]


def test_files_with_the_same_name_get_distinct_labels(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    for side in ("base", "head"):
        (tmp_path / side).mkdir()
        make(suite(rng, 8), name="x")
    a = Result(make(suite(rng, 8)).data, tmp_path / "base" / "result.json")
    b = Result(make(suite(rng, 8)).data, tmp_path / "head" / "result.json")
    c = decide.compare_results([a, b])
    assert c.pairs == (("base/result.json", "head/result.json"),)


# --- incompatible inputs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "wallclock"}, "mode differs: a.json deterministic, b.json wallclock"),
        ({"accelerator": "kvm"}, "accelerator differs: a.json tcg, b.json kvm"),
        ({"cpu_model": "max"}, "CPU model differs: a.json qemu64, b.json max"),
        ({"quick": False}, "quick/full mode differs"),
    ],
)
def test_incompatible_results_are_refused(change: dict[str, Any], message: str) -> None:
    values = {"getpid": [345.0] * 8}
    a, b = make(values, name="a.json"), make(values, name="b.json", setup=change)
    with pytest.raises(BadInputError) as err:
        decide.compare_results([a, b])
    assert message in err.value.message
    assert err.value.exit_code is ExitCode.BAD_INPUT
    assert "--force" in (err.value.hint or "")


def test_other_qemu_version_and_iterations_are_refused() -> None:
    a = make({"getpid": [345.0] * 8}, name="a.json")
    data = copy.deepcopy(dict(a.data))
    data["setup"]["qemu"]["version"] = "8.2.0"
    for s in data["benchmarks"]["getpid"]["samples"]:
        s["iterations"] = 20_000
    problems = inputs.incompatibilities(a, Result(data, Path("b.json")))
    assert any("QEMU version differs: a.json 7.2" in p and "b.json 8.2.0" in p for p in problems)
    assert "iteration count of getpid differs: a.json [10000], b.json [20000]" in problems


def test_every_setup_difference_is_named() -> None:
    a = make({"getpid": [345.0] * 8}, name="a.json")
    data = copy.deepcopy(dict(a.data))
    data["setup"]["qemu"].update(machine="q35", memory_mb=1024)
    problems = inputs.incompatibilities(a, Result(data, Path("b.json")))
    assert problems == [
        "QEMU machine differs: a.json pc, b.json q35",
        "guest memory (MiB) differs: a.json 512, b.json 1024",
    ]
    with pytest.raises(BadInputError, match="guest memory"):
        decide.compare_results([a, Result(data, Path("b.json"))])


def test_wallclock_needs_the_same_host_cpu_deterministic_does_not() -> None:
    values = {"getpid": [345.0] * 8}
    a = make(values, name="a.json")
    b = make(values, name="b.json", setup={"host_cpu": "Other CPU"})
    assert inputs.incompatibilities(a, b) == []
    aw = make(values, name="a.json", setup={"mode": "wallclock"})
    bw = make(values, name="b.json", setup={"mode": "wallclock", "host_cpu": "Other CPU"})
    assert any("host CPU" in p for p in inputs.incompatibilities(aw, bw))


def test_forced_comparison_says_so() -> None:
    values = suite(np.random.default_rng(14), 8)
    a = make(values, name="a.json")
    b = make(values, name="b.json", setup={"mode": "wallclock"})
    c = decide.compare_results([a, b], force=True)
    assert c.forced == ("mode differs: a.json deterministic, b.json wallclock",)
    assert c.mode == "mixed"
    assert "--force" in tables.comparison_markdown(c)


def test_bad_alpha_and_too_few_files() -> None:
    a = make({"getpid": [345.0] * 8}, name="a.json")
    with pytest.raises(BadInputError):
        decide.compare_results([a])
    with pytest.raises(BadInputError):
        decide.compare_results([a, a], alpha=1.5)


# --- one side only, skipped, incomplete --------------------------------------------------------


def test_benchmark_missing_from_head_is_inconclusive() -> None:
    rng = np.random.default_rng(15)
    values = suite(rng, 8)
    head_values = {k: v for k, v in values.items() if k != "stat"}
    c = decide.compare_results([make(values, name="b.json"), make(head_values, name="h.json")])
    row = next(r for r in c.rows if r.benchmark == "stat")
    assert row.verdict is Verdict.INCONCLUSIVE and row.reason == "not measured in h.json"
    assert c.exit_code is ExitCode.INCONCLUSIVE


def test_new_benchmark_in_head_is_listed_and_harmless() -> None:
    rng = np.random.default_rng(16)
    values = suite(rng, 16)
    c = decide.compare_results(
        [make(values, name="b.json"), make({**values, "brk": [900.0] * 16}, name="h.json")]
    )
    row = next(r for r in c.rows if r.benchmark == "brk")
    assert row.verdict is Verdict.NEW and "only in h.json" in row.reason
    assert c.exit_code is ExitCode.OK


def test_skipped_benchmark_is_listed_with_its_reason() -> None:
    rng = np.random.default_rng(17)
    values = suite(rng, 8)
    head_values = {k: v for k, v in values.items() if k != "fork_exit"}
    skips = [("fork_exit", b, "(fork failed at iter 3)") for b in range(8)]
    c = decide.compare_results(
        [make(values, name="b.json"), make(head_values, name="h.json", skipped=skips)]
    )
    row = next(r for r in c.rows if r.benchmark == "fork_exit")
    assert row.verdict is Verdict.INCONCLUSIVE
    assert row.reason == "skipped in h.json: (fork failed at iter 3)"


def test_benchmark_skipped_in_some_boots_is_compared_and_flagged() -> None:
    rng = np.random.default_rng(18)
    values = suite(rng, 8)
    head = suite(rng, 8)
    head["fork_exit"] = head["fork_exit"][:6]
    skips = [("fork_exit", b, "(fork failed)") for b in (6, 7)]
    c = decide.compare_results(
        [make(values, name="b.json"), make(head, name="h.json", skipped=skips)]
    )
    row = next(r for r in c.rows if r.benchmark == "fork_exit")
    assert row.head is not None and row.head.boots == 6
    assert "head: 6 of 8 boots (skipped: (fork failed))" in row.reason


def test_incomplete_run_makes_the_table_inconclusive() -> None:
    rng = np.random.default_rng(19)
    values = suite(rng, 8)
    head_values = {k: v for k, v in values.items() if k not in ("mmap_fault", "stat")}
    status = {"state": "incomplete", "kind": "kernel-panic", "reason": "boot 8 of 8: panic"}
    c = decide.compare_results(
        [make(values, name="b.json"), make(head_values, name="h.json", status=status)]
    )
    assert c.incomplete == ("h.json: kernel-panic: boot 8 of 8: panic",)
    assert c.exit_code is ExitCode.INCONCLUSIVE
    row = next(r for r in c.rows if r.benchmark == "stat")
    assert "the run ended early" in row.reason


def test_an_incomplete_run_alone_makes_the_exit_code_inconclusive() -> None:
    # Every row is "no change": only the head's status tells that a boot did not finish.
    values = suite(np.random.default_rng(21), 8)
    status = {"state": "incomplete", "kind": "hang", "reason": "boot 8 of 8: no output"}
    c = decide.compare_results(
        [make(values, name="b.json"), make(values, name="h.json", status=status)]
    )
    assert set(verdicts(c).values()) == {Verdict.NO_CHANGE}
    assert c.incomplete == ("h.json: hang: boot 8 of 8: no output",)
    assert c.exit_code is ExitCode.INCONCLUSIVE
    complete = decide.compare_results([make(values, name="b.json"), make(values, name="h.json")])
    assert complete.exit_code is ExitCode.OK


def test_verdict_exit_code_of_rows_alone() -> None:
    assert model.verdict_exit_code([Verdict.NO_CHANGE, Verdict.NEW]) is ExitCode.OK
    assert model.verdict_exit_code([Verdict.IMPROVEMENT]) is ExitCode.OK
    assert model.verdict_exit_code([Verdict.NO_CHANGE], incomplete=True) is ExitCode.INCONCLUSIVE
    assert model.verdict_exit_code([Verdict.INCONCLUSIVE]) is ExitCode.INCONCLUSIVE
    assert (
        model.verdict_exit_code([Verdict.INCONCLUSIVE, Verdict.REGRESSION], incomplete=True)
        is ExitCode.REGRESSION
    )


def test_a_benchmark_missing_from_an_incomplete_base_is_inconclusive_not_new() -> None:
    values = suite(np.random.default_rng(22), 8)
    base_values = {k: v for k, v in values.items() if k != "stat"}
    status = {"state": "incomplete", "kind": "kernel-panic", "reason": "boot 3 of 8: panic"}
    c = decide.compare_results(
        [make(base_values, name="b.json", status=status), make(values, name="h.json")]
    )
    row = next(r for r in c.rows if r.benchmark == "stat")
    assert row.verdict is Verdict.INCONCLUSIVE
    assert row.reason == "not measured in b.json (the run ended early: boot 3 of 8: panic)"
    whole_base = decide.compare_results(
        [make(base_values, name="b.json"), make(values, name="h.json")]
    )
    assert verdicts(whole_base)["stat"] is Verdict.NEW


def test_an_improvement_some_boots_did_not_measure_is_inconclusive() -> None:
    base = make({"getpid": [345.0] * 16, "stat": [4093.0] * 16}, name="base.json")
    head = make(
        {"getpid": [280.0] * 12, "stat": [3300.0] * 16},
        name="head.json",
        skipped=[("getpid", b, "(fork failed at iter 3)") for b in range(12, 16)],
    )
    rows = {r.benchmark: r for r in decide.compare_results([base, head]).rows}
    assert rows["stat"].verdict is Verdict.IMPROVEMENT
    assert rows["getpid"].verdict is Verdict.INCONCLUSIVE
    assert rows["getpid"].reason.startswith("faster by 18.8% (at least ")
    assert "; not every boot measured it; head: 12 of 16 boots" in rows["getpid"].reason


def test_regression_wins_over_incomplete() -> None:
    rng = np.random.default_rng(20)
    status = {"state": "incomplete", "kind": "incomplete", "reason": "cut short"}
    c = decide.compare_results(
        [make(suite(rng, 8), name="b.json"),
         make(suite(rng, 8, {"getpid": 1.5}), name="h.json", status=status)]
    )  # fmt: skip
    assert c.exit_code is ExitCode.REGRESSION


# --- the fixture files: real deterministic-mode runs ---------------------------------------------


def test_real_runs_same_kernel_other_boots_no_regression() -> None:
    a = store.load(RESULTS / "linux-det-8boots-a.json")
    b = store.load(RESULTS / "linux-det-8boots-b.json")
    c = decide.compare_results([a, b])
    assert c.count(Verdict.REGRESSION) == 0, tables.comparison_markdown(c)
    assert c.exit_code is ExitCode.OK, tables.comparison_markdown(c)


def test_real_runs_with_getpid_ten_percent_slower() -> None:
    a = store.load(RESULTS / "linux-det-8boots-a.json")
    b = store.load(RESULTS / "linux-det-8boots-b-getpid-x1.10.json")
    c = decide.compare_results([a, b])
    assert {r.benchmark for r in c.rows if r.verdict is Verdict.REGRESSION} == {"getpid"}
    assert c.exit_code is ExitCode.REGRESSION


def test_real_deterministic_and_wallclock_runs_are_refused() -> None:
    a = store.load(RESULTS / "linux-det-8boots-a.json")
    w = store.load(RESULTS / "linux-wallclock-8boots.json")
    with pytest.raises(BadInputError) as err:
        decide.compare_results([a, w])
    assert "mode differs: linux-det-8boots-a.json deterministic, " in err.value.message


# --- wall-clock mode and calibration ------------------------------------------------------------

WALL = {"mode": "wallclock"}


def test_wallclock_regression_needs_a_calibration() -> None:
    rng = np.random.default_rng(21)
    base = make(suite(rng, 8), name="b.json", setup=WALL)
    head = make(suite(rng, 8, {"getpid": 1.5}), name="h.json", setup=WALL)
    c = decide.compare_results([base, head])
    row = next(r for r in c.rows if r.benchmark == "getpid")
    assert row.verdict is Verdict.INCONCLUSIVE
    assert "wall-clock drift between runs is unknown" in row.reason
    assert c.exit_code is ExitCode.INCONCLUSIVE
    calibrated = decide.compare_results([base, head], noise_floors={"getpid": 0.3})
    row = next(r for r in calibrated.rows if r.benchmark == "getpid")
    assert row.verdict is Verdict.REGRESSION and row.threshold == pytest.approx(0.3)
    drifted = decide.compare_results([base, head], noise_floors={"getpid": 0.6})
    assert verdicts(drifted)["getpid"] is Verdict.NO_CHANGE


def test_calibrate_takes_the_largest_change_between_runs() -> None:
    runs = [
        make({"getpid": [345.0] * 4, "pipe": [3000.0] * 4}, name="r1.json"),
        make({"getpid": [345.0 * 1.02] * 4, "pipe": [3000.0 * 0.9] * 4}, name="r2.json"),
        make({"getpid": [345.0 * 0.99] * 4, "pipe": [3000.0] * 4}, name="r3.json"),
    ]
    document = calibration.calibrate(runs)
    assert document["mode"] == "deterministic" and document["runs"] == 3
    floors = document["noise_floor"]
    assert floors["getpid"] == pytest.approx(1.02 / 0.99 - 1, abs=1e-4)
    assert floors["pipe"] == pytest.approx(1 / 0.9 - 1, abs=1e-4)
    with pytest.raises(BadInputError):
        calibration.calibrate(runs[:1])
    with pytest.raises(BadInputError):
        calibration.calibrate([runs[0], make({"getpid": [1.0] * 4}, name="w.json", setup=WALL)])


def test_calibration_file_of_another_mode_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"mode": "wallclock", "noise_floor": {"getpid": 0.4}}))
    assert calibration.load_calibration(path, mode="wallclock") == {"getpid": 0.4}
    with pytest.raises(BadInputError) as err:
        calibration.load_calibration(path, mode="deterministic")
    assert "calibrates wallclock mode" in err.value.message


def test_a_benchmark_skipped_in_some_head_boots_is_not_no_change() -> None:
    """Review finding: getpid failing in 4 of 16 boots must not pass as "no change"."""
    base = make({"getpid": [345.0] * 16, "stat": [4093.0] * 16}, name="base.json")
    head = make(
        {"getpid": [345.0] * 12, "stat": [4093.0] * 16},
        name="head.json",
        skipped=[("getpid", b, "(fork failed at iter 3)") for b in range(12, 16)],
    )
    rows = {r.benchmark: r for r in decide.compare_results([base, head]).rows}
    assert rows["getpid"].verdict is Verdict.INCONCLUSIVE
    assert "12 of 16 boots" in rows["getpid"].reason and "fork failed" in rows["getpid"].reason
    assert rows["stat"].verdict is Verdict.NO_CHANGE


# --- issue 11: "no change" must mean no change ---------------------------------------------------


def row_of(c: model.Comparison, name: str) -> model.Row:
    return next(r for r in c.rows if r.benchmark == name)


@pytest.mark.parametrize(("boots", "slow_boots", "factor"), [(16, 8, 1.2), (8, 3, 1.3)])
def test_slowdown_in_some_head_boots_is_not_no_change(
    boots: int, slow_boots: int, factor: float
) -> None:
    """Case 1: half the head boots +20 % (or 3 of 8 +30 %) cannot raise its own threshold."""
    rng = np.random.default_rng(30)
    base = make(suite(rng, boots), name="base.json")
    values = suite(rng, boots)
    values["getpid"] = [v * factor if i < slow_boots else v for i, v in enumerate(values["getpid"])]
    c = decide.compare_results([base, make(values, name="head.json")])
    a_a = decide.compare_results([base, make(suite(rng, boots), name="same.json")])
    row = row_of(c, "getpid")
    assert row.verdict in (Verdict.REGRESSION, Verdict.INCONCLUSIVE), row
    assert c.exit_code is not ExitCode.OK
    assert row.threshold == row_of(a_a, "getpid").threshold == pytest.approx(0.01)
    assert row_of(a_a, "getpid").verdict is Verdict.NO_CHANGE


def test_mmap_fault_eight_percent_under_the_repos_config_is_not_no_change() -> None:
    """Case 2: real mmap_fault boots (several layouts), head 8 % slower, the repository's config."""
    a = store.load(RESULTS / "linux-det-8boots-a.json")
    b = store.load(RESULTS / "linux-det-8boots-b.json")
    base = {n: list(s.values) for n in a.benchmark_names() if (s := inputs.per_boot(a, n))}
    head = {n: list(s.values) for n in b.benchmark_names() if (s := inputs.per_boot(b, n))}
    head["mmap_fault"] = [v * 1.08 for v in head["mmap_fault"]]
    min_effects = decide.min_effects_from_config(REPO / "ci_tools.toml")
    c = decide.compare_results(
        [make(base, name="a.json"), make(head, name="b.json")], min_effects=min_effects
    )
    row = row_of(c, "mmap_fault")
    assert row.verdict is Verdict.INCONCLUSIVE, row
    assert row.ci is not None and row.ci[1] > 1 + row.threshold
    assert c.exit_code is ExitCode.INCONCLUSIVE


@pytest.mark.parametrize("seed", range(6))
def test_wallclock_stat_39_percent_slower_is_not_no_change(seed: int) -> None:
    """Case 2: stat +39 % in a noisy wall-clock run: never "no change" with that interval."""
    rng = np.random.default_rng(seed)
    base = make({"stat": noisy(rng, 8, 4091, 0.25)}, name="a.json", setup=WALL)
    head = make({"stat": noisy(rng, 8, 4091 * 1.39, 0.25)}, name="b.json", setup=WALL)
    row = decide.compare_results([base, head]).rows[0]
    assert row.ci is not None
    if row.ci[1] >= 1.5:  # the interval reaches past +50 %: nothing is shown
        assert row.verdict is Verdict.INCONCLUSIVE, row
    assert row.verdict is not Verdict.REGRESSION  # uncalibrated wall clock


def tied_table(boots: int, factor: float) -> model.Comparison:
    """Eight benchmarks repeating to the nanosecond; getpid slower by ``factor``."""
    names = ("getpid", "read_null", "write_null", "pipe", "fork_exit", "open_close", "stat", "x")
    base = {n: [345.0 + i] * boots for i, n in enumerate(names)}
    head = dict(base, getpid=[345.0 * factor] * boots)
    return decide.compare_results([make(base, name="b.json"), make(head, name="h.json")])


def test_tied_samples_ten_percent_slower_are_a_regression() -> None:
    """Case 5: zero-width intervals (1.100..1.100) and enough boots: regression, exit 1."""
    c = tied_table(8, 1.10)
    row = row_of(c, "getpid")
    assert row.ci == pytest.approx((1.10, 1.10))
    assert row.verdict is Verdict.REGRESSION and c.exit_code is ExitCode.REGRESSION
    assert {r.verdict for r in c.rows if r.benchmark != "getpid"} == {Verdict.NO_CHANGE}


def test_too_few_tied_boots_name_a_count_that_really_is_enough() -> None:
    """Case 5: the boots it asks for are enough: rerun at that count and it is decided."""
    few = row_of(tied_table(4, 1.10), "getpid")
    assert few.verdict is Verdict.INCONCLUSIVE
    match = re.search(r"(\d+) a side would be needed", few.reason)
    assert match is not None, few.reason
    needed = int(match.group(1))
    assert row_of(tied_table(needed, 1.10), "getpid").verdict is Verdict.REGRESSION
    assert row_of(tied_table(needed - 1, 1.10), "getpid").verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("boots", [8, 16])
def test_two_percent_on_a_stable_syscall_is_a_regression(boots: int) -> None:
    """Case 8: getpid +2 % at a 0.05 % spread is caught; the A/A table of the same is quiet."""
    for min_effects in (None, decide.min_effects_from_config(REPO / "ci_tools.toml")):
        rng = np.random.default_rng(boots)
        base = make(suite(rng, boots), name="b.json")
        slow = decide.compare_results(
            [base, make(suite(rng, boots, {"getpid": 1.02}), name="h.json")],
            min_effects=min_effects,
        )
        assert row_of(slow, "getpid").verdict is Verdict.REGRESSION
        assert row_of(slow, "getpid").reason.startswith("slower by 2.")
        a_a = decide.compare_results(
            [base, make(suite(rng, boots), name="h.json")], min_effects=min_effects
        )
        assert row_of(a_a, "getpid").verdict is Verdict.NO_CHANGE
        assert a_a.count(Verdict.REGRESSION) == a_a.count(Verdict.IMPROVEMENT) == 0


def test_threshold_says_where_it_came_from() -> None:
    rng = np.random.default_rng(31)
    base, head = make(suite(rng, 16), name="b.json"), make(suite(rng, 16), name="h.json")
    c = decide.compare_results([base, head], min_effects={"stat": 0.02})
    assert row_of(c, "stat").threshold_source == "config"
    assert row_of(c, "getpid").threshold_source == "default"
    assert row_of(c, "mmap_fault").threshold_source == "noise"  # 6 % spread a boot
    stored = decide.compare_results([base, head], noise_floors={"getpid": 0.05})
    assert row_of(stored, "getpid").threshold_source == "calibration"


def test_improvement_reads_faster_by() -> None:
    rng = np.random.default_rng(32)
    c = decide.compare_results(
        [make(suite(rng, 8), name="b.json"), make(suite(rng, 8, {"stat": 0.9}), name="h.json")]
    )
    assert row_of(c, "stat").reason.startswith("faster by 10.0% (at least ")


def test_a_benchmark_missing_on_both_sides_says_why_for_each() -> None:
    """Both sides' reasons, each named with its file, every distinct reason of a side."""
    rng = np.random.default_rng(23)
    values = {k: v for k, v in suite(rng, 8).items() if k != "fork_exit"}
    base_skips = [("fork_exit", b, "(fork failed at iter 3)") for b in range(4)]
    base_skips += [("fork_exit", b, "(fork failed at iter 9)") for b in range(4, 8)]
    head_skips = [("fork_exit", b, "(not implemented)") for b in range(8)]
    c = decide.compare_results(
        [make(values, name="b.json", skipped=base_skips),
         make(values, name="h.json", skipped=head_skips)]
    )  # fmt: skip
    row = next(r for r in c.rows if r.benchmark == "fork_exit")
    assert row.verdict is Verdict.INCONCLUSIVE
    assert row.reason == (
        "skipped in b.json: (fork failed at iter 3); (fork failed at iter 9); "
        "skipped in h.json: (not implemented)"
    )
    # missing from both, the base's run having ended early
    ended = {"state": "incomplete", "kind": "hang", "reason": "boot 3 of 8: hang"}
    c = decide.compare_results(
        [make(values, name="b.json", status=ended), make(values, name="h.json")]
    )
    stat = {r.benchmark: r for r in c.rows}
    assert "fork_exit" not in stat  # in neither file: not a row at all
    c = decide.compare_results(
        [make({**values, "brk": [1.0] * 8}, name="b.json", status=ended),
         make({k: v for k, v in values.items()}, name="h.json",
              skipped=[("brk", b, "(ENOSYS)") for b in range(8)])]
    )  # fmt: skip
    row = next(r for r in c.rows if r.benchmark == "brk")
    assert row.reason == "skipped in h.json: (ENOSYS)"


def test_a_noise_floor_too_wide_to_vouch_for_is_inconclusive_in_deterministic_mode() -> None:
    """Deterministic mode caps a "no change" at a 15 % threshold (wall-clock: 50 %): a
    base whose boots fall 25 % apart cannot vouch for an unchanged head."""
    rng = np.random.default_rng(5)
    wide = [100.0 if i % 2 else 125.0 for i in range(16)]
    base = {"getpid": noisy(rng, 16, 345, 0.0005), "mmap_fault": wide}
    head = {"getpid": noisy(rng, 16, 345, 0.0005), "mmap_fault": list(reversed(wide))}
    c = decide.compare_results([make(base, name="b.json"), make(head, name="h.json")])
    row = next(r for r in c.rows if r.benchmark == "mmap_fault")
    assert row.threshold > decide.MAX_NOISE_THRESHOLD["deterministic"]
    assert row.threshold < decide.MAX_NOISE_THRESHOLD["wallclock"]
    assert row.verdict is Verdict.INCONCLUSIVE


def test_a_configured_minimum_effect_is_the_benchmarks_own_before_the_default() -> None:
    effects = {"getpid": 0.05, "default": 0.02}
    assert decide.min_effect_for("getpid", effects, "deterministic") == 0.05
    assert decide.min_effect_for("stat", effects, "deterministic") == 0.02
    assert decide.min_effect_for("stat", None, "deterministic") == 0.01
    assert decide.min_effect_for("stat", None, "wallclock") == 0.25
