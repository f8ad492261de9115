"""Where main's history lives: an orphan branch of the repository, one file a run.

The branch (``ci_tools-history`` by default) holds ``<profile>/<xx>/<commit>-<id>.json``
for every recorded run (``record.Record``: the result document and the
commit's parents and date; ``<id>`` is a hash of the result, so recording the
same file twice changes nothing and two runs of one commit both stay).  It is
written with git plumbing only (a private index file, ``hash-object``,
``write-tree``, ``commit-tree``, ``push``): no checkout, no working tree, and
the repository's own branches and index are never touched.

Concurrent writers: a push that is not a fast-forward is refused by the
remote; the writer then fetches the new tip, adds its files to that tree and
pushes again (with growing, jittered pauses), so no record is lost and none
is half-written.  ``compact`` replaces the branch by one commit holding the
compacted tree, pushed with ``--force-with-lease`` on the tip it read: a
record pushed meanwhile makes the lease fail and the compaction starts over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ci_tools import output
from ci_tools.errors import BadInputError, CiToolsError, HarnessError
from ci_tools.history.record import Fingerprint, Record, SeriesKey
from ci_tools.results.model import Result
from ci_tools.util import jsonfile, proc
from ci_tools.util.git import git
from ci_tools.util.text import shorten

DEFAULT_BRANCH = "ci_tools-history"
DEFAULT_KEEP_DAYS = 90
ATTEMPTS = 20
IDENTITY = {
    "GIT_AUTHOR_NAME": "ci_tools", "GIT_AUTHOR_EMAIL": "ci_tools@localhost",
    "GIT_COMMITTER_NAME": "ci_tools", "GIT_COMMITTER_EMAIL": "ci_tools@localhost",
}  # fmt: skip


class HistoryPushError(CiToolsError):
    """The history branch could not be updated (bad input: the remote or its rights)."""

    exit_code = BadInputError.exit_code


@dataclass(frozen=True, kw_only=True)
class HistoryBranch:
    """The history branch on ``remote``, worked on through the local repository ``repo``."""

    repo: Path  # any local clone: it only lends its object store
    remote: str  # a remote's name, a URL or a path
    branch: str = DEFAULT_BRANCH

    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        return git(self.repo, *args, env=env)

    @contextmanager
    def _fetched(self) -> Iterator[str | None]:
        """The branch's tip, fetched into a private ref (None: no branch yet)."""
        if self._remote_tip() is None:
            yield None
            return
        ref = f"refs/ci_tools/history-{uuid.uuid4().hex}"
        try:
            self._git("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", self.remote,
                      f"+refs/heads/{self.branch}:{ref}")  # fmt: skip
            yield self._git("rev-parse", "--verify", f"{ref}^{{commit}}")
        finally:
            self._git("update-ref", "-d", ref)

    def _commit(
        self, tip: str | None, files: dict[str, bytes], drop: Iterable[str], message: str, *,
        parent: bool = True,
    ) -> str | None:  # fmt: skip
        """A commit of ``tip``'s tree with ``files`` written and ``drop`` removed, on ``tip``
        (or, ``parent=False``, a root commit); None when that changes nothing."""
        with tempfile.TemporaryDirectory(prefix="ci_tools-history-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), **IDENTITY}
            self._git("read-tree", *([tip] if tip else ["--empty"]), env=env)
            before = self._git("write-tree", env=env)
            if files:
                paths = []
                for i, content in enumerate(files.values()):
                    paths.append(Path(tmp) / f"{i}.json")
                    paths[-1].write_bytes(content)
                blobs = self._git("hash-object", "-w", *map(str, paths)).split()
                infos = [f"100644,{b},{name}" for b, name in zip(blobs, files, strict=True)]
                self._git("update-index", "--add",
                          *(a for i in infos for a in ("--cacheinfo", i)), env=env)  # fmt: skip
            dropped = list(drop)
            if dropped:
                self._git("update-index", "--force-remove", *dropped, env=env)
            tree = self._git("write-tree", env=env)
            is_root = tip is not None and not self._git("rev-list", "--parents", "-n1", tip)[41:]
            if tree == before and (parent or is_root):
                return None
            parents = ["-p", tip] if tip and parent else []
            return self._git("commit-tree", tree, *parents, "-m", message, env=env)

    def _remote_tip(self) -> str | None:
        try:
            listed = self._git("ls-remote", "--heads", self.remote, f"refs/heads/{self.branch}")
        except proc.CommandFailed as exc:
            raise BadInputError(
                f"cannot read the history remote {self.remote!r} from {self.repo}:\n"
                f"{exc.output_tail}",
                hint="give --remote a remote's name, a URL or a path that git in --repo can "
                "reach (and --repo a git repository)",
            ) from exc
        return listed.split()[0] if listed else None

    def _push(self, commit: str, tip: str | None, *, replace: bool = False) -> bool:
        """Push ``commit``, made on ``tip``; False when the remote moved on from ``tip``
        meanwhile (the caller starts again).  ``replace``: not a fast-forward, so pushed with
        a lease on ``tip``."""
        target = f"refs/heads/{self.branch}"
        args = ["push", "--quiet", "--no-verify", self.remote, f"{commit}:{target}"]
        if replace:
            args[3:] = [f"--force-with-lease={target}:{tip or ''}", self.remote,
                        f"{commit}:{target}"]  # fmt: skip
        try:
            self._git(*args)
        except proc.CommandFailed as exc:
            if self._remote_tip() != tip:
                return False
            raise HistoryPushError(
                f"cannot push the history branch {self.branch} to {self.remote}:\n"
                f"{exc.output_tail}",
                hint="the job needs `contents: write` on the repository (GITHUB_TOKEN) and a "
                "remote it can push to; locally, any path or URL you may push to",
            ) from exc
        return True

    def _retrying(self, what: str) -> Iterator[int]:
        for attempt in range(ATTEMPTS):
            if attempt:
                pause = min(5.0, 0.05 * 2**attempt) * (0.5 + random.random())
                output.info(f"history: the branch moved while {what}; trying again ({attempt})")
                time.sleep(pause)
            yield attempt
        raise HistoryPushError(
            f"gave up {what} after {ATTEMPTS} attempts: the history branch kept moving",
            hint="run the command again; the records it holds are all still there",
        )

    def record(self, records: Sequence[Record]) -> list[str]:
        """Add ``records`` (the retry loop of the module docstring); the paths written."""
        files = {path_of(r): encode(r) for r in records}
        subject = f"record {records[0].commit[:12]}: {', '.join(sorted(files))}"
        for _ in self._retrying("recording"):
            with self._fetched() as tip:
                existing = set(self._list(tip))
                new = {p: c for p, c in files.items() if p not in existing}
                if not new:
                    return []
                commit = self._commit(tip, new, (), subject)
                if commit is None or self._push(commit, tip):
                    return sorted(new)
        raise HarnessError("unreachable")  # pragma: no cover

    def _list(self, tip: str | None) -> list[str]:
        if tip is None:
            return []
        return self._git("ls-tree", "-r", "--name-only", tip).splitlines()

    def read(self) -> list[Record]:
        """Every record on the branch (none when it does not exist yet)."""
        with self._fetched() as tip:
            return list(self._read(tip))

    def _read(self, tip: str | None) -> Iterator[Record]:
        if tip is None:
            return
        with tempfile.TemporaryDirectory(prefix="ci_tools-history-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self._git("read-tree", tip, env=env)
            self._git("checkout-index", "--all", f"--prefix={tmp}/files/", env=env)
            for path in sorted((Path(tmp) / "files").rglob("*.json")):
                name = f"{self.branch}:{path.relative_to(Path(tmp) / 'files')}"
                try:
                    # The branch is anyone's with push access: read as untrusted input
                    # (size, no links or FIFOs, nesting, numbers).
                    data = jsonfile.read_json(path, limit=RECORD_LIMIT, within=Path(tmp))
                    yield Record.from_dict(data, source=name)
                except (BadInputError, ValueError) as exc:
                    output.warn(f"history: {name} skipped, it is not a readable record: {exc}")

    def compact(self, *, keep_days: int = DEFAULT_KEEP_DAYS) -> tuple[int, int]:
        """Runs older than ``keep_days`` (before the newest commit's date) reduced to one a
        week per profile and series; the branch becomes one commit.  (before, after) counts."""
        for _ in self._retrying("compacting"):
            with self._fetched() as tip:
                if tip is None:
                    return 0, 0
                records = {path_of(r): r for r in self._read(tip)}
                kept = compacted(list(records.values()), keep_days=keep_days)
                files = {path_of(r): encode(r) for r in kept}
                drop = [p for p in self._list(tip) if p not in files]
                message = f"history compacted: {len(records)} runs -> {len(kept)}"
                commit = self._commit(tip, files, drop, message, parent=False)
                if commit is None or self._push(commit, tip, replace=True):
                    return len(records), len(kept)
        raise HarnessError("unreachable")  # pragma: no cover


def path_of(record: Record) -> str:
    """``<profile>/<commit[:2]>/<commit>-<id>.json``, the id a hash of the result document
    (the fan-out folder keeps each push's new tree objects small as the history grows)."""
    digest = hashlib.sha256(json.dumps(record.result.data, sort_keys=True).encode()).hexdigest()
    return f"{record.profile}/{record.commit[:2]}/{record.commit}-{digest[:12]}.json"


def encode(record: Record) -> bytes:
    return (json.dumps(record.to_dict(), indent=1, sort_keys=True) + "\n").encode()


def _week(date: str) -> tuple[int, int]:
    year, week, _ = dt.datetime.fromisoformat(date).isocalendar()
    return year, week


def compacted(records: Sequence[Record], *, keep_days: int) -> list[Record]:
    """Every record of the last ``keep_days`` (counted back from the newest commit date);
    before that, per profile, series and ISO week, the run of the week's last commit,
    standing for the others (``stands_for``)."""
    if not records:
        return []
    newest = max(dt.datetime.fromisoformat(r.date) for r in records)
    cutoff = newest - dt.timedelta(days=keep_days)
    kept: list[Record] = []
    weeks: dict[tuple[str, SeriesKey, tuple[int, int]], list[Record]] = {}
    for r in records:
        if dt.datetime.fromisoformat(r.date) >= cutoff:
            kept.append(r)
        else:
            weeks.setdefault((r.profile, SeriesKey.of(r.result), _week(r.date)), []).append(r)
    for group in weeks.values():
        group.sort(key=lambda r: (r.date, r.recorded_at))
        last = group[-1]
        folded = {c for r in group for c in (r.commit, *r.stands_for)} - {last.commit}
        kept.append(replace(last, stands_for=tuple(sorted(folded))))
    return kept


RECORD_LIMIT = 32 << 20  # bytes: a record is a result file (results.store.RESULT_LIMIT)
# A checking boot and the stored boot it repeats (same kernel, bench, setup and padding,
# virtual time) agree exactly when nothing else changed; a harness that measures
# differently moves them apart.
CHECK_TOLERANCE = 0.005
MAX_REASON = 480  # characters: the manifest keeps 500


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """What ``find_baseline`` found: a stored run to reuse, or why there is none."""

    result: Result | None
    reason: str


def boot_values(result: Result, boot: int) -> dict[str, float]:
    """Each benchmark's ns per iteration in one boot (the median of its rounds)."""
    out = {}
    for name, bench in result.data["benchmarks"].items():
        values = sorted(s["total_ns"] / s["iterations"] for s in bench["samples"]
                        if s["boot"] == boot and s["iterations"] > 0)  # fmt: skip
        if values:
            out[name] = statistics.median(values)
    return out


def _disagreement(stored: Result, fresh: Result, tolerance: float) -> str | None:
    """Why the fresh boot does not repeat the stored boot of its index (None: it does)."""
    boot = min(b.index for b in fresh.boots)
    if boot not in {b.index for b in stored.boots}:
        return f"it has no boot {boot + 1} to check against"
    then, now = boot_values(stored, boot), boot_values(fresh, boot)
    if then.keys() != now.keys():
        return (
            f"boot {boot + 1} measured other benchmarks ({', '.join(sorted(set(then) ^ set(now)))})"
        )
    off = [(abs(now[n] / then[n] - 1), n) for n in then if then[n] > 0]
    worst, name = max(off, default=(0.0, ""))
    if worst > tolerance:
        return (
            f"boot {boot + 1} measured again differs: {name} {then[name]:,.0f} -> "
            f"{now[name]:,.0f} ns ({worst:+.1%}; at most {tolerance:.1%})"
        )
    return None


def _why_not(
    stored: Result, fresh: Result, fingerprint: Fingerprint, min_boots: int, tolerance: float
) -> str | None:
    """Why ``stored`` cannot stand in for a run measured now (None: it can)."""
    differences = Fingerprint.of(stored).differences(fingerprint)
    if len(differences) > 3:
        differences = [*differences[:3], f"and {len(differences) - 3} more"]
    if differences:
        return "measured differently (" + "; ".join(differences) + ")"
    if not stored.status.complete:
        return f"the stored run is incomplete: {stored.status.reason}"
    if len(stored.boots) < min_boots:
        return f"the stored run has {len(stored.boots)} boots, {min_boots} wanted"
    return _disagreement(stored, fresh, tolerance)


def find_baseline(
    records: Iterable[Record], fresh: Result, commit: str, *, profile: str,
    min_boots: int = 1, tolerance: float = CHECK_TOLERANCE,
) -> Baseline:  # fmt: skip
    """A stored complete run of ``profile`` at ``commit``, with at least ``min_boots``
    boots, that ``fresh`` (one boot measured now with an index the run has) shows to be
    measured as a run now would be: the same setup (``Fingerprint``) and, boot for boot,
    the same figures.  Else None and the reason (at most ``MAX_REASON`` characters)."""
    runs = [r for r in records if r.commit == commit and r.profile == profile]
    if not runs:
        return Baseline(result=None, reason=f"no run of {profile} at {commit[:12]} is stored")
    reasons = []
    fingerprint = Fingerprint.of(fresh)
    for r in sorted(runs, key=lambda r: r.recorded_at, reverse=True):
        why_not = _why_not(r.result, fresh, fingerprint, min_boots, tolerance)
        if why_not is not None:
            reasons.append(why_not)
        else:
            return Baseline(
                result=r.result,
                reason=shorten(
                    f"reused the stored run of {commit[:12]} recorded {r.recorded_at} "
                    f"({len(r.result.boots)} boots; boot {min(b.index for b in fresh.boots) + 1}"
                    f" measured again here agrees within {tolerance:.1%})",
                    MAX_REASON,
                ),
            )
    return Baseline(
        result=None,
        reason=shorten(f"stored run of {profile} at {commit[:12]}: {reasons[0]}", MAX_REASON),
    )
