"""Change points: the commits where a benchmark of a profile stepped up or down.

Candidates come from ``ruptures`` (PELT, least-squares cost), run on the log
of each commit's median scaled by the series' noise, with a BIC-like penalty
(``PENALTY`` x ln n): in units of the noise a step must pay for itself, so a
noisy benchmark needs a larger step than one that repeats exactly.  The
noise is the larger of what each commit's boots scatter by (the standard
error of its median) and what consecutive commits differ by (the median
absolute difference, which few steps cannot move), and never below
``NOISE_FLOOR``, so figures that repeat exactly still need a real step.

Each candidate is then measured: the ratio of the medians of every boot on
its two sides (up to the neighbouring change points), with a 99 % bootstrap
interval that draws whole commits, then boots within them (commits of one
code differ by more than their boots do: layout, a bimodal benchmark's
mode).  A step is reported when the interval excludes 1 and the ratio is at
least ``min_step`` away from it; a candidate that is not is dropped and its
neighbours measured again over the merged side.  The newest commit can
start a step only once ``MIN_SIZE`` commits carry it.

Why ruptures: it is maintained (releases with wheels for current Pythons),
needs only numpy and scipy, and PELT finds every change point of a series in
one exact pass.  MongoDB's signal-processing-algorithms (E-Divisive, what
Apache Otava builds on) pins numpy below 2, Python to 3.11 only, and brings
gevent and structlog; Otava itself pins numpy 2.2 and brings BigQuery,
Postgres and Slack clients.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import ruptures

from ci_tools.history.series import Series

MIN_SIZE = 2  # commits on each side of a change point, at least
PENALTY = 3.0  # x ln(commits), in squared noise units
NOISE_FLOOR = 0.001  # 0.1 %: the smallest noise assumed, even for figures that repeat exactly
DEFAULT_MIN_STEP = 0.01
CONFIDENCE = 0.99
RESAMPLES = 2000


@dataclass(frozen=True, kw_only=True)
class Change:
    """A step at ``index``: points before it against points from it on."""

    index: int
    before: float  # median of every boot on the side before
    after: float
    ratio: float  # after / before: above 1 slower (ns per iteration)
    low: float  # the bootstrap interval of the ratio
    high: float
    commits_before: int
    commits_after: int


@dataclass(frozen=True, kw_only=True)
class Step:
    """A change point of one benchmark of a series, at a commit."""

    profile: str
    series: int  # index into the series list
    benchmark: str
    commit: str | None
    label: str
    change: Change


def noise(per_point: Sequence[Sequence[float]]) -> float:
    """The noise of a series' log medians (module docstring)."""
    logs = [np.log(np.asarray(v)) for v in per_point]
    within = [1.2533 * float(np.std(v, ddof=1)) / math.sqrt(len(v)) for v in logs if len(v) > 1]
    medians = np.array([np.median(v) for v in logs])
    between = 1.4826 * float(np.median(np.abs(np.diff(medians)))) / math.sqrt(2)
    return max(statistics.median(within) if within else 0.0, between, NOISE_FLOOR)


def _resampled_medians(groups: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Medians of ``RESAMPLES`` bootstrap samples that draw whole commits (with their boots),
    then boots within them: commits differ by more than their boots do (layout, chance)."""
    n = len(groups)
    if len({g.size for g in groups}) == 1:  # the usual case, every commit the same boots
        pooled = np.stack(groups)[rng.integers(0, n, (RESAMPLES, n))].reshape(RESAMPLES, -1)
        within = rng.integers(0, pooled.shape[1], pooled.shape)
        medians: np.ndarray = np.median(np.take_along_axis(pooled, within, axis=1), axis=1)
        return medians
    out = np.empty(RESAMPLES)
    for k in range(RESAMPLES):
        drawn = np.concatenate([groups[i] for i in rng.integers(0, n, n)])
        out[k] = np.median(rng.choice(drawn, drawn.size))
    return out


def _measure(
    per_point: Sequence[Sequence[float]], start: int, index: int, end: int, seed: int
) -> Change:
    before = [np.asarray(v, dtype=float) for v in per_point[start:index]]
    after = [np.asarray(v, dtype=float) for v in per_point[index:end]]
    rng = np.random.default_rng(seed)
    ratios = _resampled_medians(after, rng) / _resampled_medians(before, rng)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    mb, ma = float(np.median(np.concatenate(before))), float(np.median(np.concatenate(after)))
    return Change(index=index, before=mb, after=ma, ratio=ma / mb, low=float(low),
                  high=float(high), commits_before=index - start,
                  commits_after=end - index)  # fmt: skip


def _real(change: Change, min_step: float) -> bool:
    return (change.low > 1 or change.high < 1) and abs(change.ratio - 1) >= min_step


def change_points(
    per_point: Sequence[Sequence[float]], *, min_step: float = DEFAULT_MIN_STEP, seed: int = 0
) -> list[Change]:
    """The steps of one benchmark's series (one list of per-boot values per commit)."""
    present = [i for i, v in enumerate(per_point) if len(v)]
    values = [per_point[i] for i in present]
    n = len(values)
    if n < 2 * MIN_SIZE:
        return []
    signal = np.log([float(np.median(v)) for v in values]) / noise(values)
    algo = ruptures.Pelt(model="l2", min_size=MIN_SIZE, jump=1).fit(signal.reshape(-1, 1))
    candidates = [int(i) for i in algo.predict(pen=PENALTY * math.log(n))[:-1]]
    while True:
        edges = [0, *candidates, n]
        measured = [
            _measure(values, edges[k], edges[k + 1], edges[k + 2], seed + k)
            for k in range(len(candidates))
        ]
        weak = [c for c in measured if not _real(c, min_step)]
        if not weak:
            break
        candidates.remove(min(weak, key=lambda c: abs(math.log(c.ratio))).index)
    # Back to the series' own positions (commits without this benchmark were left out).
    return [
        Change(index=present[c.index], before=c.before, after=c.after, ratio=c.ratio, low=c.low,
               high=c.high, commits_before=c.commits_before, commits_after=c.commits_after)
        for c in measured
    ]  # fmt: skip


def steps(series: Sequence[Series], *, min_step: float = DEFAULT_MIN_STEP) -> list[Step]:
    """Every step of every benchmark of every series, in series and commit order."""
    out = []
    for k, s in enumerate(series):
        for name in s.benchmarks:
            for c in change_points([p.values(name) for p in s.points], min_step=min_step):
                point = s.points[c.index]
                out.append(Step(profile=s.profile, series=k, benchmark=name, commit=point.commit,
                                label=point.label, change=c))  # fmt: skip
    return sorted(out, key=lambda st: (st.series, st.change.index, st.benchmark))
