"""Compare result files and decide: regression, improvement, no change or inconclusive.

``compare_results([base, head, ...])`` compares every other file with the
first; ``compare_pairs([(base, head), ...])`` compares several pairs (a
profile matrix) as one table.  Either way every row of the table belongs to
one family: the error rates hold for the whole table, not per row.

How a row is decided (the numbers come from ``compare.stats``), with
threshold t and L = log(1 + t):

1. Boots are the unit of replication: each boot gives one value, the
   median of its rounds.  The evidence is the exact Hodges-Lehmann
   interval of log(head/base), each end a one-sided bound at alpha / rows
   (Bonferroni over the table, so the interval shown *is* the evidence: a
   verdict never disagrees with the interval next to it).  With too few
   boots for any such interval the row is **inconclusive** and says how
   many boots a side would do.
2. The threshold t is the larger of the benchmark's minimum effect
   (config ``[compare] min_effect``, else 1 % in deterministic mode and
   25 % in wall-clock mode) and its noise floor: what an A/A comparison of
   the base's boots at these sizes shows, or a stored calibration.  The
   head never moves it.
3. **regression**: the interval's lower end above L (shown slower by more
   than t).  **improvement**: its upper end below -L (shown faster by more
   than the same factor, head/base < 1 / (1 + t): the mirror image in log
   space, so swapping base and head swaps the two).  **no change**: the
   upper end below L (shown *not* slower by t or more: an equivalence
   claim; a slowdown shown but within t says so in its note), provided t
   is not a noise floor of the base beyond ``MAX_NOISE_THRESHOLD`` (15 %
   deterministic, 50 % wall-clock; a configured minimum effect or a stored
   calibration is a deliberate choice and is not capped): "not slower by
   176 %" is no claim worth a green check.
   **inconclusive**: anything else, neither could be shown.
4. Wall-clock mode: the boots of one run share that run's load, and on a
   shared runner the next run of the same kernel may be far slower (on the
   2-core development machine, medians of four runs of one kernel were up
   to 77 % apart).
   Without a stored calibration across runs (``calibrate``) a wall-clock
   regression is therefore only **inconclusive**.

Inputs taken under different accelerators, modes, QEMU versions or
machines, CPU models or iteration counts are refused (``BadInputError``,
exit 3) unless forced (``compare.inputs``); a forced table carries the differences
in its notes.
Benchmarks on one side only, skipped or from an incomplete run are rows of
their own, never dropped; anything that could not be measured makes the
exit code at least "inconclusive", never "no regression".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_tools import config
from ci_tools.compare import stats
from ci_tools.compare.inputs import check_compatible, per_boot, unique_labels
from ci_tools.compare.model import Comparison, Row, Side, ThresholdSource, Verdict
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result

DEFAULT_ALPHA = 0.01
# Smallest slowdown worth failing a pull request for, when the config says
# nothing.  In deterministic mode the stable benchmarks repeat within 0.05 %
# across boots (MACHINE.md), so 1 % is well clear of them; benchmarks whose
# boots fall into several layouts get a larger threshold from their noise
# floor.  Wall-clock runs move 20-40 % (and more) between runs of the same
# code, hence the much larger default there, and a calibration on top.
DEFAULT_MIN_EFFECT = {"deterministic": 0.01, "wallclock": 0.25}
# The largest threshold a "no change" is claimed at when the noise floor, not the
# config, set it.  A noisy base may raise the bar for a regression as far as it
# must, but "not slower by 176 %" (a wall-clock stat at 8 boots) is no news a
# reviewer can use: such a row is inconclusive unless a regression is shown.
MAX_NOISE_THRESHOLD = {"deterministic": 0.15, "wallclock": 0.50}


def _partial_note(result: Result, name: str, side: Side | None, which: str) -> str:
    """Say when a benchmark has values from fewer boots than the run made."""
    run = len(result.boots)
    got = side.boots if side else 0
    if side is None or got >= run:
        return ""
    skipped = result.skip_reasons().get(name)
    why = f"skipped: {'; '.join(skipped)}" if skipped else "missing"
    return f"{which}: {got} of {run} boots ({why})"


def min_effects_from_config(path: Path | None) -> Mapping[str, float] | None:
    """``[compare] min_effect`` of the config file (``ci_tools.config``).

    With no path, the default config file is read if it exists (it is
    optional for ``compare``); a path that was named must exist.
    """
    if path is None:
        path = config.default_path()
        if not path.is_file():
            return None
    return dict(config.load(path, check_paths=False).compare.min_effect) or None


def min_effect_for(name: str, min_effects: Mapping[str, float] | None, mode: str) -> float:
    return _min_effect(name, min_effects, mode)[0]


def _min_effect(
    name: str, min_effects: Mapping[str, float] | None, mode: str
) -> tuple[float, ThresholdSource]:
    """The benchmark's minimum effect and whether the config or the built-in default set it."""
    configured = (min_effects or {}).get(name, (min_effects or {}).get("default"))
    if configured is not None:
        return float(configured), "config"
    return DEFAULT_MIN_EFFECT.get(mode, max(DEFAULT_MIN_EFFECT.values())), "default"


@dataclass(frozen=True, kw_only=True)
class _Pending:
    """A row with both sides measured, whose verdict waits for the size of the family."""

    benchmark: str
    base_label: str
    head_label: str
    base: Side
    head: Side
    min_effect: float
    stored_floor: float | None  # from a calibration
    source: ThresholdSource
    mode: str
    uncalibrated_wallclock: bool = False
    notes: tuple[str, ...] = ()


def compare_results(
    results: Sequence[Result],
    *,
    min_effects: Mapping[str, float] | None = None,
    force: bool = False,
    alpha: float = DEFAULT_ALPHA,
    noise_floors: Mapping[str, float] | None = None,
    noise_boots: int | None = None,
) -> Comparison:
    """Compare every result after the first with the first (the baseline)."""
    if len(results) < 2:
        raise BadInputError(
            "compare needs at least two result files: the baseline first, then one or more others"
        )
    base = results[0]
    return compare_pairs(
        [(base, r) for r in results[1:]],
        min_effects=min_effects,
        force=force,
        alpha=alpha,
        noise_floors=noise_floors,
        noise_boots=noise_boots,
    )


def compare_pairs(
    pairs: Sequence[tuple[Result, Result]],
    *,
    min_effects: Mapping[str, float] | None = None,
    force: bool = False,
    alpha: float = DEFAULT_ALPHA,
    noise_floors: Mapping[str, float] | None = None,
    noise_boots: int | None = None,
) -> Comparison:
    """Compare each (base, head) pair; one table, one family.

    ``alpha`` bounds, for the whole table, the chance of any false regression
    (and of any "no change" on a slowdown beyond its threshold): each row's
    interval has each end at ``alpha / rows``.  An adaptive-sampling driver
    passes the share of alpha it spends on one look.  ``noise_floors`` is a
    stored calibration (benchmark -> relative change seen between A/A runs);
    a row's noise floor is the larger of it and the base-side A/A estimate,
    made for ``noise_boots`` boots a side: an adaptive-sampling driver passes
    its budget, so that the threshold stays put across its looks and "no
    change" is within reach at the budget; by default, the row's own boots.
    """
    if not pairs:
        raise BadInputError(
            "compare needs at least two result files: the baseline first, then one or more others"
        )
    if not 0 < alpha < 1:
        raise BadInputError(f"alpha must be between 0 and 1, got {alpha}")
    forced = check_compatible(pairs, force=force)
    labels = unique_labels([r for pair in pairs for r in pair])
    modes = {r.setup.mode for pair in pairs for r in pair}
    mode = modes.pop() if len(modes) == 1 else "mixed"

    finished: list[Row] = []
    pending: list[_Pending] = []
    incomplete: list[str] = []
    for base, head in pairs:
        for r in (base, head):
            if not r.status.complete:
                note = f"{labels[id(r)]}: {r.status.kind.value}: {r.status.reason}"
                if note not in incomplete:
                    incomplete.append(note)
        _rows_of_pair(
            base, head, (labels[id(base)], labels[id(head)]), mode, min_effects, noise_floors,
            finished, pending,
        )  # fmt: skip

    family = len(pending)
    per_row = alpha / max(1, family)
    finished += [_decide(item, per_row, noise_boots) for item in pending]

    label_pairs = tuple((labels[id(b)], labels[id(h)]) for b, h in pairs)
    order = {pair: i for i, pair in enumerate(label_pairs)}
    names: dict[str, int] = {}
    for base, head in pairs:
        for n in [*base.benchmark_names(), *head.benchmark_names()]:
            names.setdefault(n, len(names))
    finished.sort(
        key=lambda r: (order[(r.base_label, r.head_label)], names.get(r.benchmark, len(names)))
    )
    notes = [
        f"Evidence: the exact Hodges-Lehmann interval of head/base on per-boot medians, each end "
        f"a one-sided bound at {per_row:.2g} (Bonferroni: alpha {alpha:g} over {family} row(s)). "
        "regression: lower end above 1 + threshold; no change: upper end below 1 + threshold; "
        "improvement: upper end below 1 / (1 + threshold); inconclusive: neither shown. "
        "threshold = max(minimum effect, noise floor of the base's boots or calibration)."
    ]
    if mode == "deterministic":
        notes.append(
            "Deterministic mode: times are virtual ns (≈ guest instructions, QEMU -icount). "
            "They see how much code runs, not cache or TLB costs (e.g. pti=on can look faster)."
        )
    extras = sorted({e for pair in pairs for r in pair for e in r.extras()})
    if extras:
        notes.append(f"Not gated (higher-is-better extras): {', '.join(extras)}.")
    return Comparison(
        pairs=label_pairs,
        rows=tuple(finished),
        alpha=alpha,
        mode=mode,
        family=family,
        confidence=1 - 2 * per_row,
        forced=tuple(forced),
        incomplete=tuple(incomplete),
        notes=tuple(notes),
    )


def _rows_of_pair(
    base: Result,
    head: Result,
    pair_labels: tuple[str, str],
    mode: str,
    min_effects: Mapping[str, float] | None,
    noise_floors: Mapping[str, float] | None,
    finished: list[Row],
    pending: list[_Pending],
) -> None:
    bl, hl = pair_labels
    names = list(dict.fromkeys([*base.benchmark_names(), *head.benchmark_names()]))
    skipped_base, skipped_head = base.skip_reasons(), head.skip_reasons()
    names += [n for n in {**skipped_base, **skipped_head} if n not in names]
    for name in names:
        b, h = per_boot(base, name), per_boot(head, name)
        if b is None or h is None:
            verdict, reason = _one_sided(
                name, b, h, (base, bl), (head, hl), skipped_base, skipped_head
            )
            finished.append(
                Row(benchmark=name, base_label=bl, head_label=hl, base=b, head=h,
                    min_effect=min_effect_for(name, min_effects, mode),
                    verdict=verdict, reason=reason)
            )  # fmt: skip
            continue
        min_effect, source = _min_effect(name, min_effects, mode)
        stored = (noise_floors or {}).get(name)
        wallclock = "wallclock" in (base.setup.mode, head.setup.mode)
        notes = [
            n
            for n in (
                _partial_note(base, name, b, "base"),
                _partial_note(head, name, h, "head"),
            )
            if n
        ]
        pending.append(
            _Pending(
                benchmark=name, base_label=bl, head_label=hl, base=b, head=h,
                min_effect=min_effect, stored_floor=stored, source=source, mode=mode,
                notes=tuple(notes), uncalibrated_wallclock=wallclock and stored is None,
            )
        )  # fmt: skip


def _one_sided(
    name: str,
    b: Side | None,
    h: Side | None,
    base_labelled: tuple[Result, str],
    head_labelled: tuple[Result, str],
    skipped_base: Mapping[str, list[str]],
    skipped_head: Mapping[str, list[str]],
) -> tuple[Verdict, str]:
    """Verdict and reason of a row with nothing to compare on at least one side."""
    (base, bl), (head, hl) = base_labelled, head_labelled

    def why(result: Result, skipped: Mapping[str, list[str]]) -> str:
        where = bl if result is base else hl
        if name in skipped:
            return f"skipped in {where}: {'; '.join(skipped[name])}"
        if not result.status.complete:
            return f"not measured in {where} (the run ended early: {result.status.reason})"
        return f"not measured in {where}"

    if b is None and h is None:
        return Verdict.INCONCLUSIVE, f"{why(base, skipped_base)}; {why(head, skipped_head)}"
    if h is None:
        return Verdict.INCONCLUSIVE, why(head, skipped_head)
    if name in skipped_base or not base.status.complete:
        return Verdict.INCONCLUSIVE, why(base, skipped_base)
    return Verdict.NEW, f"only in {hl}: nothing to compare with"


def _percent(log_change: float) -> str:
    """A log ratio as a slowdown or speed-up people read: "slower by 8.0%", "faster by 10.0%"."""
    ratio = math.exp(log_change)
    if ratio >= 1:
        return f"slower by {ratio - 1:.1%}"
    return f"faster by {1 - ratio:.1%}"


def _threshold(
    item: _Pending, per_row: float, noise_boots: int | None
) -> tuple[float | None, ThresholdSource]:
    """The row's noise floor (base boots, calibration) and where its threshold comes from."""
    boots = noise_boots or max(item.base.boots, item.head.boots)
    floor = stats.noise_floor(item.base.values, boots=boots, alpha=per_row)
    source = item.source
    if floor is not None and floor > item.min_effect:
        source = "noise"
    stored = item.stored_floor
    if stored is not None and stored > max(item.min_effect, floor or 0.0):
        source = "calibration"
    if stored is not None:
        floor = max(floor or 0.0, stored)
    return floor, source


def _no_change_cap(item: _Pending) -> float:
    """The largest threshold "no change" is claimed at: the mode's cap, or the configured one."""
    cap = MAX_NOISE_THRESHOLD.get(item.mode, max(MAX_NOISE_THRESHOLD.values()))
    return max(cap, item.min_effect)


def _decide(item: _Pending, per_row: float, noise_boots: int | None) -> Row:
    """The verdict of one row from its exact interval at level ``per_row`` (see the module)."""
    base, head = item.base, item.head
    floor, source = _threshold(item, per_row, noise_boots)
    threshold = max(item.min_effect, floor or 0.0)
    limit = math.log1p(threshold)
    est = stats.hodges_lehmann_log_ratio(base.values, head.values)
    interval = stats.shift_interval(base.values, head.values, alpha=per_row)
    ci = None
    if interval is None:
        verdict = Verdict.INCONCLUSIVE
        needed = stats.boots_needed(1, per_row)
        reason = (
            f"too few boots ({base.boots} vs {head.boots}) for any interval at the "
            f"{(1 - 2 * per_row) * 100:.6g}% confidence this table needs: {needed} a side would be "
            f"needed (--boots {needed})"
        )
    else:
        ci = (math.exp(interval.low), math.exp(interval.high))
        span = f"{ci[0]:.3f}..{ci[1]:.3f}"
        if interval.low > limit:
            verdict = Verdict.REGRESSION
            reason = f"{_percent(est)} (at least {math.expm1(interval.low):.1%})"
        elif interval.high < -limit:
            verdict = Verdict.IMPROVEMENT
            reason = f"{_percent(est)} (at least {-math.expm1(interval.high):.1%})"
        elif interval.high < limit and source == "noise" and threshold > _no_change_cap(item):
            verdict = Verdict.INCONCLUSIVE
            reason = (
                f"{_percent(est)} estimated; within the {threshold:.1%} threshold its noise "
                f"floor sets, but 'no change' is claimed up to {_no_change_cap(item):.0%} only: "
                "too noisy to vouch for (more boots, or a steadier measurement)"
            )
        elif interval.high < limit:
            verdict = Verdict.NO_CHANGE
            reason = ""
            if interval.low > 0 or interval.high < 0:
                reason = f"{_percent(est)} shown, within the {threshold:.1%} threshold"
        else:
            verdict = Verdict.INCONCLUSIVE
            reason = (
                f"{_percent(est)} estimated; the interval {span} reaches past 1 + the "
                f"{threshold:.1%} threshold, so neither a regression nor no change is shown: "
                "more boots would tell"
            )
    if item.uncalibrated_wallclock and verdict in (Verdict.REGRESSION, Verdict.IMPROVEMENT):
        # Boots of one wall-clock run share its load; a later run may differ by far more
        # (43-70 % between runs of the same kernel on a shared 2-core runner).  Only a
        # calibration across runs can tell such drift from a change.
        verdict = Verdict.INCONCLUSIVE if verdict is Verdict.REGRESSION else Verdict.NO_CHANGE
        reason = (
            f"{reason}, but wall-clock drift between runs is unknown: "
            "pass --calibration (see `ci_tools calibrate`) or use deterministic mode"
        )
    if item.notes and verdict in (Verdict.NO_CHANGE, Verdict.IMPROVEMENT):
        # Some boots did not measure it (skipped, or missing): a benchmark that
        # starts failing now and then must not pass as "no change".
        verdict = Verdict.INCONCLUSIVE
        reason = f"{reason}; not every boot measured it" if reason else "not every boot measured it"
    if item.notes:
        reason = "; ".join([reason, *item.notes]) if reason else "; ".join(item.notes)
    return Row(
        benchmark=item.benchmark, base_label=item.base_label, head_label=item.head_label,
        base=base, head=head, verdict=verdict, reason=reason, ratio=math.exp(est), ci=ci,
        min_effect=item.min_effect, noise_floor=floor, threshold_source=source,
    )  # fmt: skip
