"""What a comparison says: verdicts, rows, the table, and the one map from verdicts to exit codes.

``compare`` exits 0 when nothing regressed, 1 on a regression, 2 when
something could not be decided (README, "Exit codes"); ``exit_code`` is the
only place that decides which, for ``compare`` and for every profile of
``bench-pr`` alike.  3 (bad input) means the results could not be compared
at all.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Literal

from ci_tools.errors import ExitCode

# Where a row's threshold came from: [compare] min_effect, the built-in default,
# the noise floor of the base's boots, or a stored calibration.
ThresholdSource = Literal["config", "default", "noise", "calibration"]


class Verdict(str, Enum):
    REGRESSION = "regression"
    INCONCLUSIVE = "inconclusive"
    IMPROVEMENT = "improvement"
    NO_CHANGE = "no change"
    NEW = "new"  # only in head: nothing to compare with; does not affect the exit code

    @property
    def rank(self) -> int:
        """Order of rows in the tables: regressions first, unchanged last."""
        return list(Verdict).index(self)


@dataclass(frozen=True, kw_only=True)
class Side:
    """One side of a row: per-boot values of one benchmark in one result."""

    values: tuple[float, ...]  # one per boot: the median of that boot's rounds
    samples: int  # rounds over all boots

    @property
    def boots(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return float(statistics.median(self.values))

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)


@dataclass(frozen=True, kw_only=True)
class Row:
    benchmark: str
    base_label: str
    head_label: str
    base: Side | None
    head: Side | None
    verdict: Verdict
    reason: str = ""
    ratio: float | None = None  # Hodges-Lehmann estimate of head/base
    # Exact Hodges-Lehmann interval of head/base at the comparison's confidence;
    # None when the boots could not form one (or a side is missing).
    ci: tuple[float, float] | None = None
    min_effect: float = 0.0
    noise_floor: float | None = None
    threshold_source: ThresholdSource = "default"

    @property
    def threshold(self) -> float:
        return max(self.min_effect, self.noise_floor or 0.0)

    @property
    def shown_slower(self) -> bool:
        """Shown slower (the interval above 1), whatever the verdict: never folded away."""
        return self.ci is not None and self.ci[0] > 1


@dataclass(frozen=True, kw_only=True)
class Comparison:
    pairs: tuple[tuple[str, str], ...]  # (base label, head label)
    rows: tuple[Row, ...]
    alpha: float
    mode: str
    family: int  # rows with both sides measured: alpha is shared among them
    confidence: float  # two-sided confidence of each row's interval: 1 - 2 * alpha / family
    forced: tuple[str, ...] = ()  # incompatibilities overridden by force=True
    incomplete: tuple[str, ...] = ()  # "label: reason" of inputs that did not finish
    notes: tuple[str, ...] = ()

    @property
    def labels(self) -> list[str]:
        seen: dict[str, None] = {}
        for base, head in self.pairs:
            seen.setdefault(base)
            seen.setdefault(head)
        return list(seen)

    def count(self, verdict: Verdict) -> int:
        return sum(1 for r in self.rows if r.verdict is verdict)

    def sorted_rows(self) -> list[Row]:
        """Regressions first, then inconclusive, improvements, new, unchanged (stable)."""
        return sorted(self.rows, key=lambda r: r.verdict.rank)

    @property
    def exit_code(self) -> ExitCode:
        return verdict_exit_code((r.verdict for r in self.rows), incomplete=bool(self.incomplete))

    @property
    def summary(self) -> str:
        parts = [
            f"{self.count(Verdict.REGRESSION)} regression(s)",
            f"{self.count(Verdict.INCONCLUSIVE)} inconclusive",
            f"{self.count(Verdict.IMPROVEMENT)} improvement(s)",
            f"{self.count(Verdict.NO_CHANGE)} unchanged",
        ]
        within = sum(1 for r in self.rows if r.verdict is Verdict.NO_CHANGE and r.shown_slower)
        if within:
            parts[-1] += f" ({within} slower within the threshold)"
        if self.count(Verdict.NEW):
            parts.append(f"{self.count(Verdict.NEW)} new")
        return ", ".join(parts)


# compare's exit codes, and what each says about a table or a profile.
VERDICT_CODES: dict[ExitCode, str] = {
    ExitCode.OK: "no regression",
    ExitCode.REGRESSION: "regression",
    ExitCode.INCONCLUSIVE: "inconclusive",
    ExitCode.BAD_INPUT: "could not compare",
}


def verdict_exit_code(verdicts: Iterable[Verdict], *, incomplete: bool = False) -> ExitCode:
    """The exit code of rows with these verdicts: a regression wins; then anything that
    could not be decided (an inconclusive row, an input that did not finish); else OK.

    Rows only in the head (``new``) do not count: there is nothing to gate on.
    """
    seen = set(verdicts)
    if Verdict.REGRESSION in seen:
        return ExitCode.REGRESSION
    if Verdict.INCONCLUSIVE in seen or incomplete:
        return ExitCode.INCONCLUSIVE
    return ExitCode.OK
