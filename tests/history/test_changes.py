"""Change points of a test history of main: real result files, injected steps, a setup change."""

from __future__ import annotations

import pytest

from ci_tools.history import changes, series

import history_fake as hf


def _found(seed: int = 15) -> tuple[list[series.Series], set[tuple[str, str, str]]]:
    laid_out = series.build([series.Run.of(r) for r in hf.history(seed=seed)])
    steps = changes.steps(laid_out)
    return laid_out, {(st.profile, st.benchmark, st.commit or "") for st in steps}


def _injected() -> set[tuple[str, str, str]]:
    return {(p, b, hf.sha(at)) for at, p, b in hf.STEPS}


def test_every_injected_step_is_found_at_its_commit_and_none_elsewhere() -> None:
    laid_out, found = _found()
    assert len({p.commit for s in laid_out for p in s.points}) == hf.COMMITS >= 30
    assert found == _injected()


def test_each_step_is_measured_with_its_size_and_an_interval_around_it() -> None:
    laid_out = series.build([series.Run.of(r) for r in hf.history()])
    for st in changes.steps(laid_out):
        injected = next(
            f for (_, p, b), f in hf.STEPS.items() if (p, b) == (st.profile, st.benchmark)
        )
        assert st.change.ratio == pytest.approx(injected, abs=0.002)
        assert st.change.low <= st.change.ratio <= st.change.high
        assert not st.change.low <= 1 <= st.change.high
        assert st.change.commits_before >= changes.MIN_SIZE


def test_a_setup_change_splits_the_series_instead_of_showing_as_a_step() -> None:
    laid_out, found = _found()
    for profile in (*hf.PROFILES, "linux"):
        own = [s for s in laid_out if s.profile == profile]
        assert [len(s.points) for s in own] == [hf.SETUP_CHANGE, hf.COMMITS - hf.SETUP_CHANGE]
        assert own[1].points[0].commit == hf.sha(hf.SETUP_CHANGE)
        assert own[1].changed == ("QEMU version: 7.2.22 -> 8.2.0",)
    assert not any(commit == hf.sha(hf.SETUP_CHANGE) for _, _, commit in found)


def test_without_the_split_the_setup_change_would_be_a_step_everywhere() -> None:
    """The same figures read as one series: the 7 % QEMU change shows in every benchmark."""
    runs = series.build([series.Run.of(r) for r in hf.history(profiles=("fortress",))])
    joined = [p for s in runs for p in s.points]
    for name in runs[0].benchmarks:
        at = [c.index for c in changes.change_points([p.values(name) for p in joined])]
        assert hf.SETUP_CHANGE in at


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_real_noise_of_the_linux_guest_makes_no_step(seed: int) -> None:
    """Other draws of the Linux guest's real boots (pipe bimodal, mmap_fault spread 25 %)."""
    _, found = _found(seed)
    assert found == _injected()


def test_a_step_below_min_step_is_not_reported() -> None:
    values = [[100.0] * 4] * 10 + [[100.5] * 4] * 10
    assert changes.change_points(values) == []
    assert [c.index for c in changes.change_points(values, min_step=0.004)] == [10]


def test_a_step_within_the_noise_is_not_reported() -> None:
    """Commits alternate by 3 %: a 2 % step among them is not told apart from chance."""
    values = [[100.0 * (1.03 if i % 2 else 1.0)] * 4 for i in range(20)]
    values += [[102.0 * (1.03 if i % 2 else 1.0)] * 4 for i in range(20)]
    assert changes.change_points(values) == []


def test_too_few_commits_for_a_step_and_commits_without_the_benchmark() -> None:
    assert changes.change_points([[1.0], [2.0], [2.0]]) == []
    values: list[list[float]] = [[10.0]] * 5 + [[]] + [[11.0]] * 5
    assert [c.index for c in changes.change_points(values)] == [6]
