"""Runs of main laid out as series: per profile and setup, one point per commit, in git order.

Runs come from the history branch (``record.Record``) and from local result
files (their commit is in their provenance; its parents and date are asked of
git when the repository knows it, else the run's start time orders it).
Commits are ordered as git orders them: a parent before its children, and
commits that are not related through the runs at hand (a gap in the
history) by commit date.  Runs of one commit are pooled into one point.

A series holds one ``SeriesKey``: runs of a profile measured another way
(another QEMU, CPU model, mode, iteration counts …) start another series,
and the series says what changed, instead of showing it as a step.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import heapq
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_tools.compare.inputs import per_boot
from ci_tools.history.record import Record, SeriesKey, commit_info
from ci_tools.results.model import Result


@dataclass(frozen=True, kw_only=True)
class Run:
    """One run placed in git: from a record, or a local result file."""

    commit: str | None  # None: a result file measured outside a git checkout
    parents: tuple[str, ...]
    date: str
    subject: str
    result: Result
    stands_for: tuple[str, ...] = ()

    @property
    def profile(self) -> str:
        return self.result.target.profile or self.result.name

    @property
    def point_id(self) -> str:
        """What a point is: its commit, else the file it came from."""
        return self.commit or str(self.result.path or id(self.result))

    @classmethod
    def of(cls, record: Record) -> Run:
        return cls(commit=record.commit, parents=record.parents, date=record.date,
                   subject=record.subject, result=record.result,
                   stands_for=record.stands_for)  # fmt: skip


def runs_of_results(results: Sequence[Result], *, repo: Path | None) -> list[Run]:
    """Local result files as runs; git (in ``repo``) says each commit's parents and date,
    else the run's start time places it."""
    out = []
    for r in results:
        commit = r.data["provenance"]["git_commit"]
        info = commit_info(repo, commit) if commit else None
        if info is None:
            out.append(Run(commit=commit, parents=(), subject="", result=r,
                           date=r.data["provenance"]["started_at"]))  # fmt: skip
        else:
            out.append(Run(commit=info.commit, parents=info.parents, date=info.date,
                           subject=info.subject, result=r))  # fmt: skip
    return out


def _when(date: str) -> dt.datetime:
    # Python before 3.11 reads no "Z", which the schema's date-time allows.
    parsed = dt.datetime.fromisoformat(date.replace("Z", "+00:00").replace("z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def git_order(runs: Iterable[Run]) -> list[str]:
    """The point ids of ``runs``: parents before children, else by date (Kahn's algorithm,
    the next point always the earliest one whose parents among the runs are placed)."""
    date: dict[str, dt.datetime] = {}
    parents: dict[str, set[str]] = {}
    for r in runs:
        pid = r.point_id
        date[pid] = min(date.get(pid, _when(r.date)), _when(r.date))
        parents.setdefault(pid, set()).update(r.parents)
    waiting = {p: {q for q in ps if q in date and q != p} for p, ps in parents.items()}
    children: dict[str, list[str]] = {}
    for p, ps in waiting.items():
        for q in ps:
            children.setdefault(q, []).append(p)
    ready = [(date[p], p) for p, ps in waiting.items() if not ps]
    heapq.heapify(ready)
    order = []
    while ready:
        _, p = heapq.heappop(ready)
        order.append(p)
        for c in children.get(p, ()):
            waiting[c].discard(p)
            if not waiting[c]:
                heapq.heappush(ready, (date[c], c))
    # A cycle cannot come from git; from hand-edited records, the rest by date.
    order += sorted((p for p in date if p not in set(order)), key=lambda p: (date[p], p))
    return order


@dataclass(frozen=True, kw_only=True)
class Point:
    """One commit of a series: every run of it, pooled."""

    commit: str | None
    label: str  # the short commit, or the file name
    date: str
    subject: str
    runs: tuple[Result, ...]
    stands_for: tuple[str, ...]  # commits a compacted run stands for

    def values(self, benchmark: str) -> tuple[float, ...]:
        """One value per boot (the median of its rounds) over every run of the commit."""
        return tuple(v for r in self.runs if (s := per_boot(r, benchmark)) for v in s.values)

    def median(self, benchmark: str) -> float | None:
        values = self.values(benchmark)
        return float(statistics.median(values)) if values else None


@dataclass(frozen=True, kw_only=True)
class Series:
    profile: str
    key: SeriesKey
    points: tuple[Point, ...]
    changed: tuple[str, ...]  # what differs from the profile's previous series (empty: first)

    @property
    def benchmarks(self) -> list[str]:
        names = (n for p in self.points for r in p.runs for n in r.benchmark_names())
        return list(dict.fromkeys(names))


def _digest(result: Result) -> str:
    return hashlib.sha256(json.dumps(result.data, sort_keys=True).encode()).hexdigest()


def build(runs: Sequence[Run]) -> list[Series]:
    """The series of ``runs`` (the same result twice counts once), profiles in first-seen
    order, each profile's series in the order they start."""
    unique = list({_digest(r.result): r for r in runs}.values())
    order = {p: i for i, p in enumerate(git_order(unique))}
    groups: dict[tuple[str, SeriesKey], dict[str, list[Run]]] = {}
    for r in sorted(unique, key=lambda r: order[r.point_id]):
        groups.setdefault((r.profile, SeriesKey.of(r.result)), {}).setdefault(
            r.point_id, []
        ).append(r)
    out: list[Series] = []
    previous: dict[str, SeriesKey] = {}
    for (profile, key), points in groups.items():
        changed = previous[profile].differences(key) if profile in previous else []
        previous[profile] = key
        out.append(Series(profile=profile, key=key, changed=tuple(changed),
                          points=tuple(_point(rs) for rs in points.values())))  # fmt: skip
    profiles = list(dict.fromkeys(s.profile for s in out))
    return sorted(out, key=lambda s: profiles.index(s.profile))


def _point(runs: list[Run]) -> Point:
    first = runs[0]
    label = first.commit[:10] if first.commit else Path(first.point_id).name
    return Point(
        commit=first.commit, label=label, date=min(r.date for r in runs), subject=first.subject,
        runs=tuple(r.result for r in runs),
        stands_for=tuple(sorted({c for r in runs for c in r.stands_for})),
    )  # fmt: skip


def latest(series: Sequence[Series]) -> dict[str, Result]:
    """Each profile's newest run (the last commit of its newest series): what it costs now."""
    return {s.profile: s.points[-1].runs[-1] for s in series}
