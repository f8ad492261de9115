"""Adaptive sampling: the looks, the alpha spent at each, frozen verdicts, the budget."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ci_tools.compare import decide, stats
from ci_tools.compare.model import Comparison, Row, Side, Verdict
from ci_tools.errors import BadInputError
from ci_tools.gate import sequential
from ci_tools.results import store
from ci_tools.results.model import Result

from conftest import FIXTURES

RESULT = store.load(FIXTURES / "results" / "linux-det-8boots-a.json")


def test_half_of_alpha_at_the_first_look_the_rest_split_evenly() -> None:
    plan = sequential.plan(alpha=0.01, rows=32, min_boots=8, max_boots=24)
    assert [k.boots for k in plan.looks] == [8, 12, 16, 20, 24]
    assert plan.looks[0].alpha == pytest.approx(0.005)
    assert [k.alpha for k in plan.looks[1:]] == pytest.approx([0.00125] * 4)
    assert sum(k.alpha for k in plan.looks) == pytest.approx(0.01)
    # never more alpha at a later look than at an earlier one (the union bound needs it)
    assert all(a.alpha >= b.alpha for a, b in zip(plan.looks, plan.looks[1:], strict=False))


def test_the_first_look_has_the_boots_the_whole_family_needs() -> None:
    plan = sequential.plan(alpha=0.01, rows=32, min_boots=3, max_boots=30)
    first = plan.looks[0]
    assert first.boots == plan.needed == stats.boots_needed(32, 0.005)
    assert stats.min_attainable_p(first.boots, first.boots) <= first.alpha / 32
    # and every later look can decide at its smaller alpha too
    for look in plan.looks[1:]:
        assert stats.min_attainable_p(look.boots, look.boots) <= look.alpha / 32


def test_a_budget_no_larger_than_the_minimum_is_one_look_at_all_of_alpha() -> None:
    plan = sequential.plan(alpha=0.01, rows=8, min_boots=10, max_boots=10)
    assert plan.looks == (sequential.Look(boots=10, alpha=0.01),)


def test_nonsense_plans_are_refused() -> None:
    with pytest.raises(BadInputError, match="alpha"):
        sequential.plan(alpha=1.5, rows=8)
    with pytest.raises(BadInputError, match="max_boots must be at least 1"):
        sequential.plan(alpha=0.01, rows=8, max_boots=0)


def row(profile: str, benchmark: str, verdict: Verdict, *, compared: bool = True) -> Row:
    side = Side(values=(1.0, 1.0), samples=2)
    return Row(
        benchmark=benchmark, base_label=f"{profile}.base.json", head_label=f"{profile}.head.json",
        base=side if compared else None, head=side, verdict=verdict,
    )  # fmt: skip


class Script:
    """Stands in for bench-pr's measuring and for compare: verdicts scripted per look."""

    def __init__(self, verdicts: Sequence[dict[tuple[str, str], Verdict]]) -> None:
        self.verdicts = list(verdicts)
        self.measured: list[tuple[int, tuple[str, ...]]] = []
        self.alphas: list[float] = []
        self.uncompared: set[tuple[str, str]] = set()

    def measure(
        self, look: sequential.Look, names: Sequence[str]
    ) -> dict[str, tuple[Result, Result]]:
        self.measured.append((look.boots, tuple(names)))
        return {name: (RESULT, RESULT) for name in names}

    def compare(self, pairs: Sequence[tuple[Result, Result]], alpha: float) -> Comparison:
        self.alphas.append(alpha)
        now = self.verdicts[min(len(self.alphas), len(self.verdicts)) - 1]
        rows = tuple(
            row(p, b, v, compared=(p, b) not in self.uncompared) for (p, b), v in now.items()
        )
        return Comparison(
            pairs=(), rows=rows, alpha=alpha, mode="deterministic", family=len(rows),
            confidence=1 - alpha,
        )  # fmt: skip


def run(script: Script, plan: sequential.Plan) -> sequential.Outcome:
    outcome = sequential.run_looks(
        plan, ["fortress", "balanced"], measure=script.measure, compare=script.compare,
        profile_of=lambda r: r.base_label.split(".")[0],
    )  # fmt: skip
    assert outcome is not None
    return outcome


PLAN = sequential.plan(alpha=0.01, rows=16, min_boots=8, max_boots=16)
R, N, U = Verdict.REGRESSION, Verdict.NO_CHANGE, Verdict.INCONCLUSIVE


def test_most_tables_stop_at_the_first_look() -> None:
    script = Script([{("fortress", "getpid"): N, ("balanced", "getpid"): R}])
    outcome = run(script, PLAN)
    assert script.measured == [(8, ("fortress", "balanced"))]
    assert [r.verdict for r in outcome.comparison.rows] == [N, R]
    assert not outcome.budget_spent


def test_only_undecided_profiles_are_measured_again_and_decided_rows_stay_frozen() -> None:
    script = Script([
        {("fortress", "getpid"): R, ("fortress", "stat"): N, ("balanced", "getpid"): U},
        # At the second look compare would say otherwise about fortress: frozen rows keep
        # their first verdict; the undecided balanced row takes the new one.
        {("fortress", "getpid"): N, ("fortress", "stat"): R, ("balanced", "getpid"): R},
    ])  # fmt: skip
    outcome = run(script, PLAN)
    assert script.measured == [(8, ("fortress", "balanced")), (12, ("balanced",))]
    assert script.alphas == pytest.approx([k.alpha for k in PLAN.looks[:2]])
    assert [r.verdict for r in outcome.comparison.rows] == [R, N, R]
    assert [(k.boots, k.profiles, k.decided, k.undecided) for k in outcome.looks] == [
        (8, ("fortress", "balanced"), 2, 1), (12, ("balanced",), 1, 0),
    ]  # fmt: skip
    assert "Adaptive sampling" in outcome.comparison.notes[-1]
    assert outcome.comparison.alpha == PLAN.alpha


def test_the_budget_stops_the_looks_and_says_so() -> None:
    script = Script([{("fortress", "getpid"): N, ("balanced", "getpid"): U}])
    outcome = run(script, PLAN)
    assert [boots for boots, _ in script.measured] == [k.boots for k in PLAN.looks]
    assert outcome.budget_spent
    assert outcome.comparison.rows[1].verdict is U


def test_a_row_more_boots_cannot_decide_measures_no_more() -> None:
    script = Script([{("fortress", "getpid"): N, ("balanced", "fork_exit"): U}])
    script.uncompared.add(("balanced", "fork_exit"))  # skipped on one side: nothing to compare
    outcome = run(script, PLAN)
    assert len(script.measured) == 1
    assert not outcome.budget_spent


def test_a_profile_whose_extra_boots_fail_keeps_its_earlier_pair() -> None:
    script = Script([{("fortress", "getpid"): U, ("balanced", "getpid"): N}])
    calls: list[tuple[str, ...]] = []

    def measure(look: sequential.Look, names: Sequence[str]) -> dict[str, tuple[Result, Result]]:
        calls.append(tuple(names))
        return {} if len(calls) > 1 else {n: (RESULT, RESULT) for n in names}

    outcome = sequential.run_looks(
        PLAN, ["fortress", "balanced"], measure=measure, compare=script.compare,
        profile_of=lambda r: r.base_label.split(".")[0],
    )  # fmt: skip
    assert outcome is not None
    assert calls == [("fortress", "balanced"), ("fortress",)]
    assert outcome.comparison.rows[0].verdict is U


def test_the_real_compare_fits_the_looks() -> None:
    base = store.load(FIXTURES / "results" / "linux-det-8boots-a.json")
    head = store.load(FIXTURES / "results" / "linux-det-8boots-b-getpid-x1.10.json")
    plan = sequential.plan(alpha=decide.DEFAULT_ALPHA, rows=8, max_boots=8)
    outcome = sequential.run_looks(
        plan, ["linux"], measure=lambda look, names: {"linux": (base, head)},
        compare=lambda pairs, alpha: decide.compare_pairs(pairs, alpha=alpha),
        profile_of=lambda r: "linux",
    )  # fmt: skip
    assert outcome is not None
    getpid = next(r for r in outcome.comparison.rows if r.benchmark == "getpid")
    assert getpid.verdict is Verdict.REGRESSION
    assert Path(outcome.comparison.pairs[0][0]).name == "linux-det-8boots-a.json"
