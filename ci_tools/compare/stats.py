"""The statistics behind ``compare``: pure functions on arrays of numbers.

Everything here works on *replicates*: one value per boot (the median of
that boot's rounds), never on the raw rounds.  Under ``-icount`` the rounds
of one boot repeat almost exactly while boots with another kernel command
line land in another memory layout (pipe is bimodal, mmap_fault spreads
25 %), so rounds are not independent draws and counting them as such would
make every layout difference "significant".

All of it happens in log space: a slowdown by a factor (every value times
1.05) is a pure shift of log(head) against log(base), even when both sides
are mixtures of several layouts.  The pieces, and why:

* **Effect: Hodges-Lehmann estimate** of that shift: the median of all n*m
  pairwise differences ``log head_j - log base_i``.  For a pure slowdown it
  recovers the factor exactly even for a bimodal benchmark, where a ratio
  of medians jumps between modes.
* **Evidence: the exact Hodges-Lehmann (Moses) confidence interval** of the
  shift, ``[d_(k), d_(nm+1-k)]`` of the sorted differences, with k from the
  exact null distribution of the Mann-Whitney U statistic (``u_null_pmf``,
  computed by dynamic programming: no random permutations, no bootstrap, no
  seed).  It is the inversion of the U test: "the lower end is above x" is
  the one-sided U test of "shift <= x" rejecting at level ``alpha``, so the
  interval and the test can never disagree, and it is distribution free:
  its coverage holds for any shape, mixtures included.
  **Ties** (deterministic mode repeats values to the nanosecond): a
  difference equal to x counts as *not* exceeding it.  Breaking the ties at
  random would give exactly the untied null distribution; counting them
  against the claim only makes the count larger, so with ties the interval
  is conservative (never narrower than it should be; tested).  A sample of
  identical values gives a point interval, which is right: every pair shows
  the same shift.
* **Too few boots**: with n and m boots the smallest one-sided level the
  U test can reach is ``1 / C(n+m, n)`` (complete separation); above the
  level a row needs there is no k >= 1 and no interval at all.  Ties cannot
  change that (they only make the count larger), so the number of boots
  that would do is computed from the same exact distribution.
* **Noise floor from the base side only** (``noise_floor``): the
  smallest threshold for which an A/A comparison could show "no change":
  the 99th percentile of the interval's upper end over pseudo A/A pairs
  drawn with replacement from the base boots (seeded).  Drawing boots whole
  keeps a mixture a mixture, in the proportions the base saw, so the floor
  is right for multi-modal benchmarks (where the old square-root rescaling
  of half-sample spreads was 8x too large); the head never enters it, so a
  slowdown that adds spread cannot raise its own bar.  It is the upper end
  and not |Hodges-Lehmann|, and at a fixed number of boots (the adaptive
  budget), because "no change" needs the upper end below the threshold: a
  threshold at the estimate's own scatter, shrinking as boots are added,
  would leave most A/A rows of a noisy benchmark inconclusive at every look.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

NOISE_DRAWS = 1000
NOISE_QUANTILE = 0.99
SEED = 20240917
MAX_BOOTS = 64  # what boots_needed looks up to


def _as_array(values: Sequence[float] | Array) -> Array:
    out = np.asarray(values, dtype=np.float64)
    if out.ndim != 1 or out.size == 0:
        raise ValueError("expected a non-empty one-dimensional sample")
    if not np.all(np.isfinite(out)) or np.any(out <= 0):
        raise ValueError("samples must be positive, finite durations")
    return out


def _differences(base: Sequence[float] | Array, head: Sequence[float] | Array) -> Array:
    """All n*m differences ``log head_j - log base_i``, sorted."""
    b = np.log(_as_array(base))
    h = np.log(_as_array(head))
    return np.sort((h[None, :] - b[:, None]).ravel())


def hodges_lehmann_log_ratio(base: Sequence[float] | Array, head: Sequence[float] | Array) -> float:
    """Median over all pairs of ``log(head_j / base_i)``: the log of the ratio head/base."""
    return float(np.median(_differences(base, head)))


# --- the exact null distribution of U ----------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _u_pmf(n: int, m: int) -> tuple[float, ...]:
    # P_{i,j}(u) = i/(i+j) P_{i-1,j}(u - j) + j/(i+j) P_{i,j-1}(u): the largest of the i+j
    # values is a base value (then it exceeds all j head values) or a head value.  All terms
    # are positive: no cancellation, full relative precision far into the tails.
    prev = [np.ones(1)] * (m + 1)  # i = 0: U is 0 whatever j
    for i in range(1, n + 1):
        row = [np.ones(1)]
        for j in range(1, m + 1):
            cur = np.zeros(i * j + 1)
            cur[j:] += i / (i + j) * prev[j]
            cur[: i * (j - 1) + 1] += j / (i + j) * row[j - 1]
            row.append(cur)
        prev = row
    return tuple(float(x) for x in prev[m])


def u_null_pmf(n: int, m: int) -> Array:
    """P(U = u), u = 0..n*m, for n base and m head values, no ties, no shift.

    U counts the pairs (base_i, head_j) with head_j < base_i.  Exact, by the
    dynamic programme of Mann and Whitney (1947) on probabilities.
    """
    if n < 1 or m < 1:
        raise ValueError("both sides need at least one value")
    return np.array(_u_pmf(n, m))


def order_index(n: int, m: int, alpha: float) -> int:
    """k of the Hodges-Lehmann interval: the most k with P(U <= k - 1) <= alpha (0: none)."""
    cdf = np.cumsum(u_null_pmf(n, m))
    # A relative margin keeps float rounding from dropping an exactly attained level.
    return int(np.count_nonzero(cdf <= alpha * (1 + 1e-9)))


def min_attainable_p(n: int, m: int) -> float:
    """The smallest one-sided p-value the U test can give with n and m boots: 1 / C(n+m, n).

    That is the p of two completely separated samples (with or without
    ties).  When it is above the level a row needs, no slowdown, however
    large, can be shown: the row needs more boots, not a smaller threshold.
    """
    if n < 1 or m < 1:
        return 1.0
    return 1.0 / math.comb(n + m, n)


def boots_needed(k: int, alpha: float, *, limit: int = MAX_BOOTS) -> int:
    """Fewest boots per side (n = m) for which a table of ``k`` rows can show anything.

    That is, for which an interval at the per-row level ``alpha / k`` exists
    (``min_attainable_p(n, n) <= alpha / k``).  ``limit`` if none up to it does.
    """
    for n in range(2, limit + 1):
        if min_attainable_p(n, n) <= alpha / max(1, k):
            return n
    return limit


@dataclass(frozen=True, kw_only=True)
class Interval:
    """Hodges-Lehmann estimate and exact interval of log(head/base)."""

    low: float
    estimate: float
    high: float
    k: int  # order statistic of the ends; the level actually attained is p_attained
    p_attained: float  # P(U <= k - 1): each end's exact one-sided error, <= alpha


def shift_interval(
    base: Sequence[float] | Array, head: Sequence[float] | Array, *, alpha: float
) -> Interval | None:
    """The exact interval with each end a one-sided bound at level ``alpha``.

    Its two-sided confidence is at least ``1 - 2 * alpha``.  None when these
    boots cannot form one (``min_attainable_p > alpha``).
    """
    d = _differences(base, head)
    n, m = len(base), len(head)
    k = order_index(n, m, alpha)
    if k == 0:
        return None
    p = float(np.cumsum(u_null_pmf(n, m))[k - 1])
    return Interval(
        low=float(d[k - 1]), estimate=float(np.median(d)), high=float(d[n * m - k]), k=k,
        p_attained=p,
    )  # fmt: skip


def extreme_shift(base: Sequence[float] | Array, head: Sequence[float] | Array) -> float:
    """The largest |log(head_j / base_i)| over all pairs: what no interval can exceed."""
    d = _differences(base, head)
    return float(max(abs(d[0]), abs(d[-1])))


# --- the noise floor ---------------------------------------------------------------------------


def noise_floor(
    base: Sequence[float] | Array,
    *,
    boots: int,
    alpha: float,
    draws: int = NOISE_DRAWS,
    quantile: float = NOISE_QUANTILE,
    seed: int = SEED,
) -> float | None:
    """The smallest threshold an A/A comparison of ``boots`` a side could show "no change" for.

    ``draws`` pseudo A/A pairs of ``boots`` and ``boots`` boots, drawn with
    replacement from the base boots alone (seeded: the same files give the
    same table); for each, the upper end of the exact interval at ``alpha``;
    the ``quantile`` of those ends, returned as a relative change
    (``exp(.) - 1``, at least 0).  A threshold below it would leave A/A rows
    inconclusive more often than ``1 - quantile`` however the head behaves.
    None with fewer than four base boots (too few to tell what a layout
    mixture looks like) or when ``boots`` cannot form an interval at all.

    Resampled boots never leave the range the base saw, so with few boots
    the floor errs low (8 lognormal boots: A/A upper ends beyond it 17 % of
    the time, not 1 %; 16 boots: 2.5 %).  That direction is safe: a low
    floor costs inconclusive rows (more boots), never a false verdict, as
    both verdicts rest on the interval.  Smoothing the resampled boots
    (Silverman's bandwidth) fixed the lognormal case but blurred the modes
    of a bimodal benchmark and nearly doubled its floor, which would hide
    regressions: not done.
    """
    logs = np.log(_as_array(base))
    n = logs.size
    k = order_index(boots, boots, alpha) if boots >= 1 else 0
    if n < 4 or k == 0:
        return None
    rng = np.random.default_rng(seed)
    ends = []
    pairs = boots * boots
    chunk = max(1, 2_000_000 // pairs)
    for start in range(0, draws, chunk):
        size = min(chunk, draws - start)
        left = logs[rng.integers(0, n, size=(size, boots))]
        right = logs[rng.integers(0, n, size=(size, boots))]
        diffs = (right[:, None, :] - left[:, :, None]).reshape(size, pairs)
        ends.append(np.partition(diffs, pairs - k, axis=1)[:, pairs - k])
    return max(0.0, float(math.expm1(np.quantile(np.concatenate(ends), quantile))))
