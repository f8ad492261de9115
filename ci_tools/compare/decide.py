"""Compare result files and decide: regression, improvement, no change or inconclusive.

``compare_results([base, head, ...])`` compares every other file with the
first; ``compare_pairs([(base, head), ...])`` compares several pairs (a
profile matrix) as one table.  Either way every row of the table belongs to
one family: the false-alarm rate holds for the whole table, not per row.

How a row is decided (the numbers come from ``compare.stats``):

1. Boots are the unit of replication: each boot gives one value, the
   median of its rounds.  With too few boots for the U test to ever reach
   the level a row needs (alpha / number of rows, Holm's first step), the
   row is **inconclusive** and says how many boots would do.
2. The threshold of a row is the larger of the benchmark's minimum effect
   (config ``[compare] min_effect``, else a built-in default per mode) and
   its noise floor (A/A splits of the same boots, or a stored calibration).
3. **Regression** needs statistical evidence (Holm-adjusted Mann-Whitney
   p <= alpha) *and* the whole confidence interval of head/base above
   1 + threshold.  Significant but with an interval that straddles the
   threshold: **inconclusive**.  Significant but entirely below the
   threshold: **no change** (a real but negligible difference; the note
   says so).  Improvements are the mirror image, except that an uncertain
   improvement is "no change", as it is certainly not a regression.
4. Not significant: **no change**, unless the estimated slowdown is
   beyond the threshold: then **inconclusive** (the estimate says "slower",
   the test cannot confirm it with these boots).  That is the case of a
   small slowdown of a benchmark whose boots fall into several layouts:
   the Hodges-Lehmann estimate sees the shift within each layout, while
   the rank test, blind to layouts, needs many boots to confirm it.
5. Wall-clock mode: the boots of one run share that run's load, and on a
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
from dataclasses import dataclass, field
from pathlib import Path

from ci_tools import config
from ci_tools.compare import stats
from ci_tools.compare.inputs import check_compatible, per_boot, unique_labels
from ci_tools.compare.model import Comparison, Row, Side, Verdict
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result

DEFAULT_ALPHA = 0.01
# Smallest slowdown worth failing a pull request for, when the config says
# nothing.  Deterministic mode repeats within 0.5 % for the stable
# benchmarks (MACHINE.md), so 3 % is well clear of it; benchmarks whose
# boots fall into several layouts get a larger threshold from their noise
# floor.  Wall-clock runs move 20-40 % (and more) between runs of the same
# code, hence the much larger default there, and a calibration on top.
DEFAULT_MIN_EFFECT = {"deterministic": 0.03, "wallclock": 0.25}


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
    builtin = DEFAULT_MIN_EFFECT.get(mode, max(DEFAULT_MIN_EFFECT.values()))
    if not min_effects:
        return builtin
    return float(min_effects.get(name, min_effects.get("default", builtin)))


@dataclass(kw_only=True)
class _Pending:
    """A row whose p-value is known but whose verdict waits for Holm."""

    benchmark: str
    base_label: str
    head_label: str
    base: Side
    head: Side
    p: float
    ratio: float
    ci: tuple[float, float]
    min_effect: float
    noise_floor: float | None
    uncalibrated_wallclock: bool = False
    notes: list[str] = field(default_factory=list)


def compare_results(
    results: Sequence[Result],
    *,
    min_effects: Mapping[str, float] | None = None,
    force: bool = False,
    alpha: float = DEFAULT_ALPHA,
    noise_floors: Mapping[str, float] | None = None,
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
    )


def compare_pairs(
    pairs: Sequence[tuple[Result, Result]],
    *,
    min_effects: Mapping[str, float] | None = None,
    force: bool = False,
    alpha: float = DEFAULT_ALPHA,
    noise_floors: Mapping[str, float] | None = None,
) -> Comparison:
    """Compare each (base, head) pair; one table, one family for Holm.

    ``noise_floors`` is a stored calibration (benchmark -> relative change
    seen between A/A runs); a row's noise floor is the larger of it and the
    A/A splits of its own boots.
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
    adjusted = stats.holm([p.p for p in pending])
    for item, p_adj in zip(pending, adjusted, strict=True):
        finished.append(_decide(item, p_adj, alpha, family))

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
        f"Verdicts: Mann-Whitney U on per-boot medians, Holm-adjusted over {family} row(s) "
        f"(family-wise alpha {alpha:g}); head/base is the Hodges-Lehmann ratio with a "
        f"{stats.CONFIDENCE:.0%} bootstrap interval; a regression needs p <= alpha and the "
        "whole interval above 1 + threshold (threshold = max(minimum effect, noise floor))."
    ]
    extras = sorted({e for pair in pairs for r in pair for e in r.extras()})
    if extras:
        notes.append(f"Not gated (higher-is-better extras): {', '.join(extras)}.")
    return Comparison(
        pairs=label_pairs,
        rows=tuple(finished),
        alpha=alpha,
        mode=mode,
        family=family,
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
        effect = min_effect_for(name, min_effects, mode)
        if b is None or h is None:
            verdict, reason = _one_sided(
                name, b, h, (base, bl), (head, hl), skipped_base, skipped_head
            )
            finished.append(
                Row(benchmark=name, base_label=bl, head_label=hl, base=b, head=h,
                    min_effect=effect, verdict=verdict, reason=reason)
            )  # fmt: skip
            continue
        floor = stats.noise_floor(b.values, h.values)
        stored = (noise_floors or {}).get(name)
        if stored is not None:
            floor = max(floor or 0.0, stored)
        wallclock = "wallclock" in (base.setup.mode, head.setup.mode)
        low, high = stats.log_ratio_ci(b.values, h.values)
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
                p=stats.mann_whitney_p(b.values, h.values),
                ratio=math.exp(stats.hodges_lehmann_log_ratio(b.values, h.values)),
                ci=(math.exp(low), math.exp(high)),
                min_effect=effect, noise_floor=floor, notes=notes,
                uncalibrated_wallclock=wallclock and stored is None,
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


def _decide(item: _Pending, p_adj: float, alpha: float, family: int) -> Row:
    base, head = item.base, item.head
    threshold = max(item.min_effect, item.noise_floor or 0.0)
    limit = math.log1p(threshold)
    est = math.log(item.ratio)
    low, high = (math.log(x) for x in item.ci)
    change = f"{(item.ratio - 1) * 100:+.1f}%"
    best_p = stats.min_attainable_p(base.boots, head.boots)
    needed = alpha / max(1, family)
    if best_p > needed:
        verdict = Verdict.INCONCLUSIVE
        reason = (
            f"too few boots ({base.boots} vs {head.boots}): the best possible p, {best_p:.2g}, "
            f"is above the {needed:.2g} that {family} row(s) need; "
            f"use --boots {stats.boots_needed(family, alpha)} or more"
        )
    elif est > 0:
        significant = p_adj <= alpha
        if significant and low > limit:
            verdict, reason = Verdict.REGRESSION, f"slower by {change}"
        elif significant and high > limit:
            verdict = Verdict.INCONCLUSIVE
            reason = (
                f"significant {change}, but the interval reaches below the "
                f"{threshold:.1%} threshold: more boots would tell"
            )
        elif not significant and est > limit:
            verdict = Verdict.INCONCLUSIVE
            reason = (
                f"estimated {change}, beyond the {threshold:.1%} threshold, but not "
                f"significant (p {p_adj:.2g} after Holm): more boots would tell"
            )
        elif significant:
            verdict = Verdict.NO_CHANGE
            reason = f"significant {change}, but below the {threshold:.1%} threshold"
        else:
            verdict, reason = Verdict.NO_CHANGE, ""
    elif p_adj <= alpha and high < -limit:
        verdict, reason = Verdict.IMPROVEMENT, f"faster by {change}"
    elif p_adj <= alpha:
        verdict = Verdict.NO_CHANGE
        reason = f"significant {change}, not clearly beyond the {threshold:.1%} threshold"
    else:
        verdict, reason = Verdict.NO_CHANGE, ""
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
        base=base, head=head, verdict=verdict, reason=reason, ratio=item.ratio, ci=item.ci,
        p=item.p, p_adjusted=p_adj, min_effect=item.min_effect, noise_floor=item.noise_floor,
    )  # fmt: skip
