"""The statistics behind ``compare``: pure functions on arrays of numbers.

Everything here works on *replicates*: one value per boot (the median of
that boot's rounds), never on the raw rounds.  Under ``-icount`` the rounds
of one boot repeat almost exactly while boots with another kernel command
line land in another memory layout (pipe is bimodal, mmap_fault spreads
25 %), so rounds are not independent draws and counting them as such would
make every layout difference "significant".

The pieces, and why:

* **Test: Mann-Whitney U** (``scipy.stats.mannwhitneyu``) on the per-boot
  values.  It is rank based, so it needs no normality and copes with the
  bimodal benchmarks; when base and head boots are exchangeable (an A/A
  comparison) its false-alarm rate is the nominal one whatever the shape.
  Exact p-values when there are no ties; with ties, the permutation
  distribution wherever the normal approximation would be too coarse to
  decide (see ``mann_whitney_p``).
* **Effect: Hodges-Lehmann estimate of the ratio head/base**: the median of
  all pairwise ``log(head_j / base_i)``, exponentiated.  For a pure
  slowdown (every value times 1.05) it recovers 1.05 exactly even when both
  sides are mixtures of two layouts, where a ratio of medians jumps
  between modes.  It is the estimator that goes with the U test.
* **Confidence interval: percentile bootstrap** of that estimate
  (``scipy.stats.bootstrap``), resampling boots within each side, seeded so
  the same files always give the same table.  90 %, so that each end is a
  one-sided 95 % bound: a verdict only ever uses one end ("slower by more
  than the threshold", or "faster by more"), the convention of equivalence
  testing (TOST).  Percentile rather than BCa
  because BCa is undefined on the degenerate samples deterministic mode
  produces (all boots equal).
* **Family-wise error: Holm-Bonferroni** over every row of the table.
  scipy has no Holm (``false_discovery_control`` is Benjamini-Hochberg,
  which bounds the share of false alarms among the alarms, not the chance
  of any false alarm, which is what a gate needs); the step-down rule is
  four lines and is tested against published values.
* **Noise floor: A/A splits of the same boots.**  Each side's boots are
  split in two halves many times; the 95th percentile of the halves'
  Hodges-Lehmann |log ratio|, rescaled from half-size to full-size samples,
  is the change this benchmark shows with no change at all.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

Array = npt.NDArray[np.float64]

CONFIDENCE = 0.90
BOOTSTRAP_RESAMPLES = 2000
NOISE_SPLITS = 200
NOISE_QUANTILE = 0.95
SEED = 20240917
PERMUTATIONS = 20_000
REFINE_BELOW = 0.1


def _as_array(values: Sequence[float] | Array) -> Array:
    out = np.asarray(values, dtype=np.float64)
    if out.ndim != 1 or out.size == 0:
        raise ValueError("expected a non-empty one-dimensional sample")
    if not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError("samples must be positive, finite durations")
    return out


def hodges_lehmann_log_ratio(base: Sequence[float] | Array, head: Sequence[float] | Array) -> float:
    """Median over all pairs of ``log(head_j / base_i)``: the log of the ratio head/base."""
    b = np.log(_as_array(base))
    h = np.log(_as_array(head))
    return float(np.median(h[None, :] - b[:, None]))


def _hl_vectorized(base: Array, head: Array, axis: int = -1) -> Array:
    """Hodges-Lehmann log ratio along ``axis``, for ``scipy.stats.bootstrap``."""
    b = np.moveaxis(np.log(base), axis, -1)
    h = np.moveaxis(np.log(head), axis, -1)
    diffs = h[..., None, :] - b[..., :, None]
    flat = diffs.reshape(*diffs.shape[:-2], -1)
    result: Array = np.median(flat, axis=-1)
    return result


def log_ratio_ci(
    base: Sequence[float] | Array,
    head: Sequence[float] | Array,
    *,
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the Hodges-Lehmann log ratio.

    Boots are resampled within each side (they are the independent units).
    With a single value on a side there is nothing to resample: the
    interval is then the point estimate, and callers must not read it as
    precision (``compare`` declares such rows inconclusive anyway).
    """
    b, h = _as_array(base), _as_array(head)
    if b.size < 2 or h.size < 2:
        est = hodges_lehmann_log_ratio(b, h)
        return est, est
    res = sps.bootstrap(
        (b, h),
        _hl_vectorized,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    low, high = res.confidence_interval
    return float(low), float(high)


def mann_whitney_p(
    base: Sequence[float] | Array, head: Sequence[float] | Array, *, seed: int = SEED
) -> float:
    """Two-sided Mann-Whitney U p-value, exact wherever it can decide a row.

    Without ties: scipy's exact distribution.  With ties (deterministic mode
    repeats some benchmarks to the nanosecond, so a side is often one value
    many times) scipy's normal approximation is accurate in the middle but
    up to ten times too large in the far tail, where gating decisions are
    made: 9.3e-4 instead of 1.6e-4 for 8 separated boots a side.  So when
    it falls below ``REFINE_BELOW``, the p-value is recomputed from the
    permutation distribution (``scipy.stats.PermutationMethod``): every
    split when there are at most ``PERMUTATIONS`` of them, else that many
    seeded random ones (smallest p then 2 / (PERMUTATIONS + 1)).
    """
    b, h = _as_array(base), _as_array(head)
    pooled = np.concatenate([b, h])
    if np.unique(pooled).size == pooled.size:
        result: Any = sps.mannwhitneyu(b, h, alternative="two-sided", method="exact")
        return _clean_p(result.pvalue)
    result = sps.mannwhitneyu(b, h, alternative="two-sided", method="asymptotic")
    p = _clean_p(result.pvalue)
    if p >= REFINE_BELOW:
        return p
    splits = math.comb(b.size + h.size, b.size)
    method = sps.PermutationMethod(
        n_resamples=np.inf if splits <= PERMUTATIONS else PERMUTATIONS,
        rng=np.random.default_rng(seed),
    )
    result = sps.mannwhitneyu(b, h, alternative="two-sided", method=method)
    return _clean_p(result.pvalue)


def _clean_p(value: Any) -> float:
    p = float(value)
    return 1.0 if math.isnan(p) else min(1.0, p)


def min_attainable_p(n: int, m: int) -> float:
    """The smallest two-sided p-value the U test can give with n and m replicates.

    That is the p of two completely separated samples.  When it is above
    the level a row needs, no amount of slowdown can be called significant:
    the row is inconclusive and the user needs more boots, not a smaller
    threshold.
    """
    if n < 1 or m < 1:
        return 1.0
    return mann_whitney_p(np.arange(1.0, n + 1), np.arange(n + 1.0, n + m + 1))


def boots_needed(k: int, alpha: float, *, limit: int = 64) -> int:
    """Fewest boots per side (n = m) for which ``min_attainable_p <= alpha / k``."""
    for n in range(2, limit + 1):
        if min_attainable_p(n, n) <= alpha / max(1, k):
            return n
    return limit


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (family-wise error over the whole list).

    Reject row i at level alpha exactly when ``adjusted[i] <= alpha``.
    """
    k = len(pvalues)
    order = sorted(range(k), key=lambda i: pvalues[i])
    adjusted = [1.0] * k
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (k - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def noise_floor(
    base: Sequence[float] | Array,
    head: Sequence[float] | Array,
    *,
    splits: int = NOISE_SPLITS,
    quantile: float = NOISE_QUANTILE,
    seed: int = SEED,
) -> float | None:
    """The |log ratio| A/A comparisons of these same boots show: base vs base, head vs head.

    Each side with at least four boots is split into two halves (every
    split when there are few, else ``splits`` seeded random ones); the
    Hodges-Lehmann |log ratio| of the halves is taken, and its
    ``quantile`` is rescaled from half-size samples to the sizes actually
    compared (the estimate's spread goes as sqrt(1/n + 1/m)).  The larger
    of the two sides is returned; None when neither side has four boots.
    """
    b, h = _as_array(base), _as_array(head)
    full_scale = math.sqrt(1 / b.size + 1 / h.size)
    floors = []
    for side in (b, h):
        if side.size < 4:
            continue
        half = side.size // 2
        left, right = _half_splits(side.size, half, splits, seed)
        logs = np.log(side)
        diffs = logs[right][:, None, :] - logs[left][:, :, None]  # split x half x rest
        values = np.abs(np.median(diffs.reshape(len(left), -1), axis=1))
        half_scale = math.sqrt(1 / half + 1 / (side.size - half))
        floors.append(float(np.quantile(values, quantile)) * full_scale / half_scale)
    return max(floors) if floors else None


def _half_splits(
    n: int, half: int, limit: int, seed: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index arrays (splits x half, splits x rest): every split when few, else seeded ones."""
    everything = range(n)
    if math.comb(n, half) <= 2 * limit:
        combos = list(itertools.combinations(everything, half))
        if n == 2 * half:  # each unordered split once: the first boot stays on the left
            combos = [c for c in combos if c[0] == 0]
        left = np.array(combos, dtype=np.intp)
    else:
        rng = np.random.default_rng(seed)
        left = np.sort(np.array([rng.permutation(n)[:half] for _ in range(limit)]), axis=1)
    mask = np.ones((len(left), n), dtype=bool)
    np.put_along_axis(mask, left, False, axis=1)
    right = np.array([np.flatnonzero(row) for row in mask], dtype=np.intp)
    return left, right
