"""The statistics of ``compare`` on known, seeded synthetic distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ci_tools.compare import stats


def lognormal(rng: np.random.Generator, n: int, sigma: float, center: float = 1000.0) -> np.ndarray:
    return center * np.exp(rng.normal(0.0, sigma, n))


def bimodal(
    rng: np.random.Generator, n: int, low: float = 3345.0, high: float = 3720.0
) -> np.ndarray:
    """pipe under -icount: each boot lands in one of two layouts."""
    modes = rng.random(n) < 0.5
    return np.where(modes, low, high) * np.exp(rng.normal(0.0, 0.001, n))


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
    assert ratio == pytest.approx(1.05, abs=0.005)
    medians = float(np.median(head) / np.median(base))
    assert medians == pytest.approx(3720 * 1.05 / 3345, abs=0.001)  # +16.8 %: off by a mode


def test_samples_must_be_positive_durations() -> None:
    with pytest.raises(ValueError):
        stats.hodges_lehmann_log_ratio([1.0, 0.0], [1.0])
    with pytest.raises(ValueError):
        stats.mann_whitney_p([], [1.0])


# --- Mann-Whitney ------------------------------------------------------------------


def test_mann_whitney_exact_p_of_complete_separation() -> None:
    # 2 / C(16, 8): the exact two-sided p of two separated samples of 8.
    p = stats.mann_whitney_p(np.arange(1.0, 9.0), np.arange(9.0, 17.0))
    assert p == pytest.approx(2 / math.comb(16, 8))
    assert stats.min_attainable_p(8, 8) == pytest.approx(p)


def test_mann_whitney_identical_samples_are_not_significant() -> None:
    assert stats.mann_whitney_p([345.0] * 8, [345.0] * 8) == 1.0


def test_mann_whitney_with_ties_separated_sides_is_significant() -> None:
    # Deterministic mode: every boot of a side gives the same number.
    p = stats.mann_whitney_p([345.0] * 10, [379.5] * 10)
    assert p < 1e-4


def test_min_attainable_p_and_boots_needed() -> None:
    assert stats.min_attainable_p(1, 1) == 1.0
    assert stats.min_attainable_p(5, 5) > 0.05 / 8  # 2/252: never enough for 8 rows
    assert stats.boots_needed(8, 0.01) == 7  # 2/3432 = 5.8e-4 <= 0.01/8
    assert stats.boots_needed(32, 0.01) == 8  # 2/12870 = 1.6e-4 <= 0.01/32
    assert stats.min_attainable_p(stats.boots_needed(8, 0.05), 7) <= 0.05 / 8


def test_mann_whitney_false_alarm_rate_holds_for_bimodal_a_a() -> None:
    """Exchangeable boots: rejections at 0.05 stay near 5 % even with two layouts."""
    rng = np.random.default_rng(7)
    trials = 600
    rejections = sum(
        stats.mann_whitney_p(bimodal(rng, 10), bimodal(rng, 10)) <= 0.05 for _ in range(trials)
    )
    assert rejections / trials <= 0.07


def test_mann_whitney_detects_a_real_slowdown() -> None:
    rng = np.random.default_rng(8)
    hits = sum(
        stats.mann_whitney_p(lognormal(rng, 8, 0.01), lognormal(rng, 8, 0.01) * 1.05) <= 0.001
        for _ in range(100)
    )
    assert hits >= 95


# --- bootstrap interval -----------------------------------------------------------------


def test_interval_covers_the_true_ratio_and_is_seeded() -> None:
    rng = np.random.default_rng(3)
    base, head = lognormal(rng, 10, 0.02), lognormal(rng, 10, 0.02) * 1.10
    low, high = stats.log_ratio_ci(base, head)
    assert low < math.log(1.10) < high
    assert high - low < 0.05
    assert stats.log_ratio_ci(base, head) == (low, high)  # same input, same table


def test_interval_of_degenerate_samples_is_a_point() -> None:
    low, high = stats.log_ratio_ci([345.0] * 6, [345.0] * 6)
    assert low == high == 0.0


def test_interval_coverage_on_synthetic_a_a() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(200):
        low, high = stats.log_ratio_ci(lognormal(rng, 12, 0.03), lognormal(rng, 12, 0.03))
        covered += low <= 0.0 <= high
    # A 90 % percentile-bootstrap interval with 12 boots a side covers a little less.
    assert 160 <= covered <= 190


# --- Holm -------------------------------------------------------------------------------


def test_holm_matches_published_adjustment() -> None:
    # R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.03 0.06 0.06 0.02
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([]) == []
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_holm_keeps_the_family_wise_rate() -> None:
    rng = np.random.default_rng(5)
    tables = 2000
    any_false = sum(min(stats.holm(list(rng.random(16)))) <= 0.05 for _ in range(tables))
    assert any_false / tables <= 0.06


# --- noise floor --------------------------------------------------------------------------


def test_noise_floor_tracks_the_spread_of_boots() -> None:
    rng = np.random.default_rng(2)
    quiet = stats.noise_floor(lognormal(rng, 10, 0.001), lognormal(rng, 10, 0.001))
    noisy = stats.noise_floor(lognormal(rng, 10, 0.05), lognormal(rng, 10, 0.05))
    assert quiet is not None and noisy is not None
    assert quiet < 0.003
    assert 0.01 < noisy < 0.1


def test_noise_floor_ignores_a_real_difference_between_sides() -> None:
    rng = np.random.default_rng(4)
    base = lognormal(rng, 10, 0.005)
    floor = stats.noise_floor(base, base * 1.5)
    assert floor is not None and floor < 0.02


def test_noise_floor_needs_four_boots() -> None:
    assert stats.noise_floor([1.0, 2.0, 3.0], [1.0, 2.0]) is None
    assert stats.noise_floor([1.0, 2.0, 3.0, 4.0], [1.0]) is not None


def test_noise_floor_of_a_bimodal_benchmark_is_below_its_mode_gap() -> None:
    rng = np.random.default_rng(6)
    floor = stats.noise_floor(bimodal(rng, 10), bimodal(rng, 10))
    assert floor is not None and floor < math.log(3720 / 3345)


def test_half_splits_enumerate_each_split_once() -> None:
    left, right = stats._half_splits(6, 3, 200, 0)
    assert len(left) == math.comb(6, 3) // 2
    seen = {frozenset(map(int, row)) for row in left} | {frozenset(map(int, r)) for r in right}
    assert len(seen) == math.comb(6, 3)
    left, right = stats._half_splits(20, 10, 50, 0)
    assert left.shape == (50, 10) and right.shape == (50, 10)


def test_mann_whitney_with_ties_is_exact_in_the_tail() -> None:
    """Deterministic mode repeats values to the nanosecond; the p-value must not suffer."""
    base = np.array([345.0] * 3 + [345.1] * 5)  # ties inside a side
    p = stats.mann_whitney_p(base, base * 1.1)
    assert p == pytest.approx(2 / math.comb(16, 8))  # 1.6e-4, not the 9.3e-4 of the normal
    twelve = np.array([345.0] * 6 + [345.1] * 6)
    p = stats.mann_whitney_p(twelve, twelve * 1.1)  # too many splits: seeded random ones
    assert p == pytest.approx(2 / (stats.PERMUTATIONS + 1))
    assert stats.mann_whitney_p(twelve, twelve * 1.1) == p
    # Ties across the sides, far from significance: the normal approximation stands.
    assert stats.mann_whitney_p([1.0, 2.0, 2.0, 3.0], [2.0, 2.0, 3.0, 1.0]) > 0.5
