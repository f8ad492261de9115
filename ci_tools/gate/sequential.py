"""Adaptive sampling: measure the minimum, decide, measure more only where undecided.

bench-pr measures ``min_boots`` per side for every profile and compares the
whole matrix (one table, one family).  Rows still inconclusive get more
boots, in steps, up to ``max_boots`` (the budget), and only their profiles
are measured again; at each *look* the table is decided again.  A row
decided at a look keeps that decision, with that look's figures (it is
frozen); only undecided rows take the new look's verdict.

The error rate across looks: alpha spending with Bonferroni over the
planned looks.  Look k spends alpha_k, with sum(alpha_k) = alpha: half of
alpha at the first look, so that most pull requests stop at the minimum
with almost the power of a single-look test, and the other half split
evenly over the later looks.  Why this design and not a classic
group-sequential boundary (Pocock, O'Brien-Fleming, Lan-DeMets spending
functions): those bounds are computed for test statistics that behave like
Brownian motion across looks (normal increments, known correlation
sqrt(n_j / n_k)).  Ours are rank tests on per-boot medians that are
discrete, heavily tied (deterministic mode repeats values exactly) and
multi-modal (a benchmark's boots fall into a few memory layouts): none of
that holds, and a bound derived from it could spend more than alpha.  The
union bound needs nothing: whatever the correlation between looks,

    P(any false claim at any look) <= sum over looks of P(false claim at look k)
                                   <= sum(alpha_k) = alpha,

because every look tests the whole family at alpha_k with compare's own
family-wise rule (rows of profiles no longer measured take part with their
last data; as alpha_k never grows after the first look, a row whose data
is from look j, tested at alpha_k <= alpha_j, is covered by look j's
share).  The price is some power at later looks compared with an exact
boundary, which more boots buy back.

The same bound covers every claim whose error rate at a look is bounded by
the alpha the look passes to ``compare`` ("no change" included, where the
decision rules tie its interval to alpha).

``min_boots`` is raised, if need be, to what the whole family needs to be
decidable at the first look's alpha (``stats.boots_needed``); the default
step, half the minimum, gives every later look enough boots for its
smaller alpha (tests/gate/test_sequential.py checks the shipped matrix).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ci_tools.compare import stats
from ci_tools.compare.model import Comparison, Row, Verdict
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result

FIRST_LOOK_SHARE = 0.5  # of alpha, spent at the first look
DEFAULT_MAX_BOOTS = 24  # per side, the budget when the config names none

# compare(pairs, alpha) -> one table and one family for all the pairs.
Compare = Callable[[Sequence[tuple[Result, Result]], float], Comparison]
# measure(look, profiles) -> the (base, head) pair of each profile it could measure,
# with ``look.boots`` boots per side (more boots of the profiles of an earlier look).
Measure = Callable[["Look", Sequence[str]], Mapping[str, tuple[Result, Result]]]


@dataclass(frozen=True, kw_only=True)
class Look:
    boots: int  # per side, for every profile measured at this look
    alpha: float  # family-wise alpha spent at this look


@dataclass(frozen=True, kw_only=True)
class Plan:
    alpha: float  # the total over the looks
    looks: tuple[Look, ...]
    needed: int  # boots per side the first look's alpha needs for the family

    @property
    def min_boots(self) -> int:
        return self.looks[0].boots

    @property
    def max_boots(self) -> int:
        return self.looks[-1].boots


def plan(
    *,
    alpha: float,
    rows: int,
    min_boots: int | None = None,
    max_boots: int | None = None,
    step: int | None = None,
) -> Plan:
    """The looks: ``min_boots``, then ``step`` more at a time, the last at ``max_boots``.

    ``rows`` is the size of the family (profiles x benchmarks).  A
    ``min_boots`` too small for the first look's alpha is raised to what it
    needs (``Plan.needed``); a ``max_boots`` below the minimum means one look.
    """
    if not 0 < alpha < 1:
        raise BadInputError(f"alpha must be between 0 and 1, got {alpha}")
    for name, value in (("min_boots", min_boots), ("max_boots", max_boots), ("step", step)):
        if value is not None and value < 1:
            raise BadInputError(f"[gate] {name} must be at least 1, got {value}")
    budget = max_boots if max_boots is not None else DEFAULT_MAX_BOOTS
    needed = stats.boots_needed(rows, alpha * FIRST_LOOK_SHARE)
    first = max(min_boots or 0, needed)
    if budget <= first:
        # One look: it may spend all of alpha, so it may need fewer boots.
        needed = stats.boots_needed(rows, alpha)
        first = max(min_boots or 0, needed)
        return Plan(alpha=alpha, looks=(Look(boots=first, alpha=alpha),), needed=needed)
    step = step or max(2, math.ceil(first / 2))
    sizes = [*range(first, budget, step), budget]
    later = alpha * (1 - FIRST_LOOK_SHARE) / (len(sizes) - 1)
    looks = [Look(boots=sizes[0], alpha=alpha * FIRST_LOOK_SHARE)]
    looks += [Look(boots=n, alpha=later) for n in sizes[1:]]
    return Plan(alpha=alpha, looks=tuple(looks), needed=needed)


@dataclass(frozen=True, kw_only=True)
class LookRecord:
    """What one look measured and decided."""

    boots: int
    alpha: float
    profiles: tuple[str, ...]  # the profiles measured to ``boots`` at this look
    decided: int  # rows that got their verdict at this look
    undecided: int  # rows still inconclusive after it


@dataclass(frozen=True, kw_only=True)
class Outcome:
    comparison: Comparison  # the last look's table, frozen rows in place
    looks: tuple[LookRecord, ...]
    budget_spent: bool  # rows were still undecided at the last look of the plan


def can_decide(row: Row) -> bool:
    """An inconclusive row that more boots could decide: one that was compared.

    A row with nothing to compare on one side (a skipped benchmark, an
    incomplete run) stays inconclusive however many boots are measured.
    """
    return row.verdict is Verdict.INCONCLUSIVE and row.base is not None and row.head is not None


def run_looks(
    the_plan: Plan,
    profiles: Sequence[str],
    *,
    measure: Measure,
    compare: Compare,
    profile_of: Callable[[Row], str],
) -> Outcome | None:
    """Measure and decide look by look; None if no profile could be measured at all.

    ``profile_of`` tells which profile a row of the table belongs to.
    """
    pairs: dict[str, tuple[Result, Result]] = {}
    frozen: dict[tuple[str, str], Row] = {}
    records: list[LookRecord] = []
    todo = list(profiles)
    comparison: Comparison | None = None
    rows: list[Row] = []
    for number, look in enumerate(the_plan.looks):
        measured = measure(look, todo)
        pairs.update(measured)
        if not pairs:
            return None
        comparison = compare(list(pairs.values()), look.alpha)
        rows, decided = [], 0
        for row in comparison.rows:
            key = (profile_of(row), row.benchmark)
            if key in frozen:
                rows.append(frozen[key])
                continue
            if not can_decide(row):
                frozen[key] = row
                decided += 1
            rows.append(row)
        undecided_profiles = list(dict.fromkeys(profile_of(r) for r in rows if can_decide(r)))
        records.append(
            LookRecord(
                boots=look.boots,
                alpha=look.alpha,
                profiles=tuple(p for p in todo if p in measured),
                decided=decided,
                undecided=sum(1 for r in rows if can_decide(r)),
            )
        )
        # Profiles whose extra boots could not be measured keep their earlier data.
        todo = [p for p in undecided_profiles if p in measured]
        if not todo or number == len(the_plan.looks) - 1:
            break
    assert comparison is not None
    looked = ", ".join(f"{r.boots} (alpha {r.alpha:.2g})" for r in records)
    note = (
        f"Adaptive sampling: looks at {looked} boots per side; rows decided at a look keep "
        f"that look's verdict and figures; family-wise alpha {the_plan.alpha:g} spent over "
        f"the {len(the_plan.looks)} planned looks (Bonferroni alpha spending)."
    )
    final = dataclasses.replace(
        comparison, rows=tuple(rows), alpha=the_plan.alpha, notes=(*comparison.notes, note)
    )
    spent = any(can_decide(r) for r in rows)
    return Outcome(comparison=final, looks=tuple(records), budget_spent=spent)
