"""The statistics of ``compare`` on known, seeded synthetic distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from ci_tools.compare import stats


def lognormal(rng: np.random.Generator, n: int, sigma: float, center: float = 1000.0) -> np.ndarray:
    return center * np.exp(rng.normal(0.0, sigma, n))


def bimodal(
    rng: np.random.Generator, n: int, low: float = 3345.0, high: float = 3720.0
) -> np.ndarray:
    """pipe under -icount: each boot lands in one of two layouts."""
    modes = rng.random(n) < 0.5
    return np.where(modes, low, high) * np.exp(rng.normal(0.0, 0.001, n))


# mmap_fault under -icount: a few memory layouts between 3146 and 3955 ns, a little
# jitter inside each.
LAYOUTS = np.array([3146.0, 3302.0, 3590.0, 3955.0])
LAYOUT_P = np.array([0.4, 0.3, 0.2, 0.1])


def layouts(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(LAYOUTS, size=n, p=LAYOUT_P) * np.exp(rng.normal(0.0, 0.002, n))


# --- Hodges-Lehmann ----------------------------------------------------------------


def test_hodges_lehmann_recovers_a_pure_scale_change_exactly() -> None:
    base = np.array([100.0, 130.0, 170.0, 300.0])
    assert math.exp(stats.hodges_lehmann_log_ratio(base, base * 1.05)) == pytest.approx(1.05)


def test_hodges_lehmann_recovers_a_slowdown_of_a_bimodal_benchmark() -> None:
    # The ratio of medians jumps between modes; the pairwise estimate does not.
    # Base boots landed mostly in the fast layout, head boots mostly in the slow one.
    base = np.array([3345.0] * 7 + [3720.0] * 5)
    head = np.array([3345.0] * 5 + [3720.0] * 7) * 1.05
    ratio = math.exp(stats.hodges_lehmann_log_ratio(base, head))
    # (The ratio of the medians, 3720 * 1.05 / 3345, would say +16.8 %: off by a mode.)
    assert ratio == pytest.approx(1.05, abs=0.005)


def test_samples_must_be_positive_durations() -> None:
    with pytest.raises(ValueError):
        stats.hodges_lehmann_log_ratio([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        stats.shift_interval([], [1.0], alpha=0.05)
    with pytest.raises(ValueError):
        stats.u_null_pmf(0, 3)


# --- the exact null distribution of U ----------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(1, 1), (2, 5), (3, 3), (5, 4), (8, 8), (12, 7)])
def test_u_distribution_matches_scipys_exact_test(n: int, m: int) -> None:
    """P(U <= u) is scipy's exact one-sided p-value, for untied samples of every shape."""
    pmf = stats.u_null_pmf(n, m)
    assert pmf.size == n * m + 1 and pmf.sum() == pytest.approx(1.0)
    assert pmf == pytest.approx(pmf[::-1])  # symmetric under no shift
    assert pmf[0] == pytest.approx(1 / math.comb(n + m, n))
    cdf = np.cumsum(pmf)
    rng = np.random.default_rng(n * 100 + m)
    for _ in range(20):
        base, head = rng.normal(size=n), rng.normal(size=m) + rng.normal()
        u = int(np.sum(head[None, :] < base[:, None]))
        exact = sps.mannwhitneyu(head, base, alternative="greater", method="exact").pvalue
        assert cdf[u] == pytest.approx(float(exact), rel=1e-9)


def test_min_attainable_p_and_boots_needed() -> None:
    assert stats.min_attainable_p(1, 1) == 0.5
    assert stats.min_attainable_p(8, 8) == pytest.approx(1 / 12870)
    assert stats.boots_needed(8, 0.01) == 6  # 1/924 <= 0.01/8 < 1/252
    assert stats.boots_needed(32, 0.01) == 7  # 1/3432 <= 0.01/32 < 1/924
    for rows in (1, 8, 32, 1000):
        n = stats.boots_needed(rows, 0.01)
        assert stats.min_attainable_p(n, n) <= 0.01 / rows < stats.min_attainable_p(n - 1, n - 1)
        assert stats.shift_interval(np.arange(1.0, n + 1), np.arange(1.0, n + 1), alpha=0.01 / rows)
        assert stats.order_index(n - 1, n - 1, 0.01 / rows) == 0


# --- the exact interval -------------------------------------------------------------------------


def u_test_p(base: np.ndarray, head: np.ndarray, shift: float) -> float:
    """scipy's exact one-sided p of "log head - log base is at most ``shift``"."""
    test = sps.mannwhitneyu(
        np.log(head) - shift, np.log(base), alternative="greater", method="exact"
    )
    return float(test.pvalue)


def test_interval_is_the_inversion_of_the_u_test() -> None:
    """Just below the lower end the one-sided U test rejects "shift <= x"; at it, it does not."""
    rng = np.random.default_rng(3)
    for n, m, alpha in ((8, 8, 0.01), (10, 6, 0.05), (12, 12, 0.00125)):
        base, head = lognormal(rng, n, 0.02), lognormal(rng, m, 0.02) * 1.03
        iv = stats.shift_interval(base, head, alpha=alpha)
        assert iv is not None and iv.low <= iv.estimate <= iv.high

        assert u_test_p(base, head, iv.low - 1e-9) <= alpha < u_test_p(base, head, iv.low + 1e-9)
        assert iv.p_attained <= alpha


def test_interval_covers_the_true_shift_at_its_level() -> None:
    """Distribution free: lognormal, bimodal and layout mixtures alike, fixed seeds."""
    rng = np.random.default_rng(11)
    alpha, trials, missed = 0.05, 400, 0
    attained = 0.0  # the level the intervals attain (the same for every 10 and 10 boots)
    for draw in (
        lambda n: lognormal(rng, n, 0.03),
        lambda n: bimodal(rng, n),
        lambda n: layouts(rng, n),
    ):
        below = above = 0
        for _ in range(trials):
            iv = stats.shift_interval(draw(10), draw(10) * 1.04, alpha=alpha)
            assert iv is not None
            attained = iv.p_attained
            below += iv.high < math.log(1.04)
            above += iv.low > math.log(1.04)
        # each end misses at most alpha of the time (plus binomial slack)
        assert below / trials <= alpha + 0.03 and above / trials <= alpha + 0.03
        missed += below + above
    # ... and, pooled, as often as its attained level says (0.0446 an end with 10 and 10
    # boots): not less, as a wider interval (95 % two-sided, 0.025 an end) would.
    assert 0.04 < attained <= alpha
    assert abs(missed / (3 * trials) - 2 * attained) <= 0.03


def test_interval_with_ties_is_conservative() -> None:
    """Values on a coarse grid (many ties within and across sides): coverage stays >= nominal."""
    rng = np.random.default_rng(12)
    alpha, trials, missed = 0.05, 400, 0
    for _ in range(trials):
        base = rng.choice([100.0, 101.0, 102.0], size=9)
        head = rng.choice([100.0, 101.0, 102.0], size=9) * 1.1
        iv = stats.shift_interval(base, head, alpha=alpha)
        assert iv is not None
        # the true shift is a tie of many pairs: compare up to float rounding of the logs
        missed += not iv.low - 1e-12 <= math.log(1.1) <= iv.high + 1e-12
    assert missed / trials <= 2 * alpha


def test_interval_of_tied_samples_is_the_shift_itself() -> None:
    iv = stats.shift_interval([345.0] * 6, [345.0] * 6, alpha=0.01)
    assert iv is not None and iv.low == iv.high == iv.estimate == 0.0
    iv = stats.shift_interval([345.0] * 6, [379.5] * 6, alpha=0.01)
    assert iv is not None and math.exp(iv.low) == pytest.approx(1.1)
    assert math.exp(iv.high) == pytest.approx(1.1)


def test_no_interval_with_too_few_boots() -> None:
    assert stats.shift_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alpha=0.01) is None  # 1/20
    assert stats.shift_interval([1.0, 2.0, 3.0], [4.0, 5.0, 6.0], alpha=0.05) is not None


# --- noise floor --------------------------------------------------------------------------


def test_noise_floor_of_tied_boots_is_zero_and_follows_the_spread() -> None:
    rng = np.random.default_rng(2)
    assert stats.noise_floor([345.0] * 8, boots=16, alpha=0.00125) == 0.0
    quiet = stats.noise_floor(lognormal(rng, 16, 0.001), boots=16, alpha=0.00125)
    noisy = stats.noise_floor(lognormal(rng, 16, 0.02), boots=16, alpha=0.00125)
    assert quiet is not None and noisy is not None
    assert quiet < 0.003 < 0.01 < noisy < 0.06
    more = stats.noise_floor(lognormal(rng, 16, 0.02), boots=64, alpha=0.00125)
    assert more is not None and more < noisy  # more boots, narrower A/A intervals


def test_noise_floor_needs_four_base_boots_and_an_interval() -> None:
    assert stats.noise_floor([1.0, 2.0, 3.0], boots=16, alpha=0.01) is None
    assert stats.noise_floor([1.0, 2.0, 3.0, 4.0], boots=16, alpha=0.01) is not None
    assert stats.noise_floor([1.0, 2.0, 3.0, 4.0], boots=3, alpha=0.01) is None


def brute_force_floor(draw: object, boots: int, alpha: float, trials: int) -> float:
    """The same quantity from independent A/A pairs of the true distribution."""
    ends = []
    for _ in range(trials):
        iv = stats.shift_interval(draw(boots), draw(boots), alpha=alpha)  # type: ignore[operator]
        assert iv is not None
        ends.append(iv.high)
    return math.expm1(float(np.quantile(ends, stats.NOISE_QUANTILE)))


@pytest.mark.parametrize("boots", [16, 32])
def test_noise_floor_of_a_layout_mixture_matches_a_brute_force_a_a(boots: int) -> None:
    """Issue case 3: resampled from 16 base boots, the floor is what real A/A pairs show."""
    rng = np.random.default_rng(boots)
    alpha = 0.01 / 8
    truth = brute_force_floor(lambda n: layouts(rng, n), boots, alpha, 2000)
    estimates = [
        stats.noise_floor(layouts(rng, 16), boots=boots, alpha=alpha, seed=s) for s in range(10)
    ]
    assert all(e is not None for e in estimates)
    median = float(np.median([e for e in estimates if e is not None]))
    assert 0.6 * truth <= median <= 1.6 * truth, (median, truth)


def test_bad_samples_are_named() -> None:
    with pytest.raises(ValueError, match=r"^expected a non-empty one-dimensional sample$"):
        stats.hodges_lehmann_log_ratio([[1.0, 2.0]], [1.0])
    with pytest.raises(ValueError, match=r"^expected a non-empty one-dimensional sample$"):
        stats.extreme_shift([], [1.0])
    with pytest.raises(ValueError, match=r"^samples must be positive, finite durations$"):
        stats.extreme_shift([1.0, float("inf")], [1.0])
    # No boots on a side: no p-value below 1 (math.comb would say 1 / 1 there too).
    assert stats.min_attainable_p(0, 4) == stats.min_attainable_p(4, 0) == 1.0
    assert stats.min_attainable_p(1, 4) == pytest.approx(1 / 5)


def test_extreme_shift_is_the_largest_pairwise_log_ratio_either_way() -> None:
    # Pairs head/base: 2/1, 2/4, 3/1, 3/4: log ratios ln 3 at most, ln(1/2) at least.
    assert stats.extreme_shift([1.0, 4.0], [2.0, 3.0]) == pytest.approx(math.log(3))
    assert stats.extreme_shift([2.0, 3.0], [1.0, 4.0]) == pytest.approx(math.log(3))
    assert stats.extreme_shift([10.0, 11.0], [1.0, 12.0]) == pytest.approx(math.log(11))
    assert stats.extreme_shift([5.0], [5.0]) == 0.0


def test_boots_needed_counts_from_two_and_stops_at_its_limit() -> None:
    assert stats.boots_needed(1, 0.5) == 2  # 1/6 <= 0.5 with 2 boots (1 boot would give 1/2)
    assert stats.boots_needed(1, 1 / 6) == 2  # exactly attained counts
    assert stats.boots_needed(1, 0.01, limit=4) == 4  # none up to 4: the limit
    assert stats.boots_needed(1, 1 / 70) == 4  # C(8, 4) = 70, exactly
    assert stats.boots_needed(1, 1e-40) == stats.MAX_BOOTS == 64  # C(128, 64) < 1e40
