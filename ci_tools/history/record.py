"""One stored run of main: a result of one profile at one commit, and how it was measured.

``Record`` is the file the history branch holds (``schemas/history-record-v1``):
the result document as ``bench`` wrote it, plus the commit's place in git
(parents, commit date), which the result alone does not know.

Two keys are read from a result:

- ``series_key``: what must stay the same for figures to sit on one line over
  commits (accelerator, mode, QEMU, CPU model, iteration counts, and the guest
  kernel when it is not the code under test).  A change starts a new series
  instead of showing as a step.
- ``Fingerprint``: what must be the same for a stored run to stand in for a
  measurement of the same commit (``bench-pr``'s reused baseline): all of the
  above, plus the kernel, initramfs and bench hashes and the ci_tools version.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_tools.errors import BadInputError, CiToolsError
from ci_tools.results import store
from ci_tools.results.model import Result, now
from ci_tools.util.git import git
from ci_tools.util.schemas import schema_errors

FORMAT = "ci_tools-history-record"
VERSION = 1
SCHEMA = "history-record-v1.schema.json"


@dataclass(frozen=True, kw_only=True)
class Record:
    """A result of main at ``commit``, where that commit sits in git."""

    commit: str
    parents: tuple[str, ...]
    date: str  # the commit's committer date (ISO 8601)
    result: Result
    recorded_at: str = dataclasses.field(default_factory=now)
    subject: str = ""
    stands_for: tuple[str, ...] = ()  # commits of its week that compaction folded into it

    @property
    def profile(self) -> str:
        return self.result.target.profile or self.result.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "commit": self.commit,
            "parents": list(self.parents), "date": self.date, "subject": self.subject,
            "recorded_at": self.recorded_at, "result": dict(self.result.data),
        }  # fmt: skip
        if self.stands_for:
            out["stands_for"] = list(self.stands_for)
        return out

    @classmethod
    def from_dict(cls, data: Any, *, source: str) -> Record:
        """A record read from a file; every problem with it is a ``BadInputError``."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise BadInputError(f"{source}: not a ci_tools history record")
        if data.get("version") != VERSION:
            raise BadInputError(
                f"{source}: history record version {data.get('version')!r}; this ci_tools reads "
                f"version {VERSION}",
                hint="read the history with the ci_tools that wrote it, or upgrade ci_tools",
            )
        errors = schema_errors(data, SCHEMA)
        if errors:
            raise BadInputError(f"{source}: not a valid history record: {'; '.join(errors[:5])}")
        store.validate(data["result"], source=f"{source} (its result)")
        return cls(
            commit=data["commit"],
            parents=tuple(data["parents"]),
            date=data["date"],
            result=Result(data["result"]),
            recorded_at=data["recorded_at"],
            subject=data.get("subject", ""),
            stands_for=tuple(data.get("stands_for", ())),
        )


def kernel_under_test(result: Result) -> bool:
    """Is the booted kernel the code being measured (its bench built in), rather than a
    fixed guest that runs a bench (the Linux reference, a profile of Linux options)?"""
    target = result.target
    return target.kernel_sha256 is not None and target.kernel_sha256 == target.bench_binary_sha256


def iterations(result: Result) -> tuple[tuple[str, tuple[int, ...]], ...]:
    # By name: a file's order of benchmarks (run order, or a store's sorted keys) is no setup.
    names = sorted(result.benchmark_names())
    return tuple((name, tuple(sorted(result.iterations(name)))) for name in names)


@dataclass(frozen=True, kw_only=True)
class SeriesKey:
    """What a series of figures over commits holds fixed; ``describe`` names each part."""

    target: str
    accelerator: str
    mode: str
    qemu_version: str | None
    qemu_machine: str | None
    memory_mb: int | None
    cpu_model: str
    host_cpu: str | None  # only in wall-clock mode, where it moves the figures
    quick: bool
    guest_kernel: str | None  # the sha256 of a guest kernel that is not under test
    iterations: tuple[tuple[str, tuple[int, ...]], ...]

    @classmethod
    def of(cls, result: Result) -> SeriesKey:
        setup, qemu = result.setup, result.setup.qemu
        return cls(
            target=result.target.profile or result.name,
            accelerator=setup.accelerator,
            mode=setup.mode,
            qemu_version=qemu.version if qemu else None,
            qemu_machine=qemu.machine if qemu else None,
            memory_mb=qemu.memory_mb if qemu else None,
            cpu_model=setup.cpu_model,
            host_cpu=setup.host_cpu if setup.mode == "wallclock" else None,
            quick=setup.quick,
            guest_kernel=None if kernel_under_test(result) else result.target.kernel_sha256,
            iterations=iterations(result),
        )

    def short(self) -> str:
        """One line for a heading: the parts a reader tells series apart by."""
        qemu = f"QEMU {self.qemu_version}" if self.qemu_version else "native"
        kernel = f", guest kernel {self.guest_kernel[:12]}" if self.guest_kernel else ""
        return (
            f"{self.mode}, {self.accelerator}, {qemu}, CPU {self.cpu_model}, "
            f"{'quick' if self.quick else 'full'}{kernel}"
        )

    def differences(self, other: SeriesKey) -> list[str]:
        """What changed from ``self`` to ``other``, as 'what: old -> new'."""
        labels = {
            "accelerator": "accelerator", "mode": "mode", "qemu_version": "QEMU version",
            "qemu_machine": "QEMU machine", "memory_mb": "guest memory (MiB)",
            "cpu_model": "CPU model", "host_cpu": "host CPU", "quick": "quick mode",
            "guest_kernel": "guest kernel", "iterations": "iteration counts",
        }  # fmt: skip
        out = []
        for field, label in labels.items():
            old, new = getattr(self, field), getattr(other, field)
            if field == "iterations":
                # Only the benchmarks whose counts differ (or that one side lacks).
                mine, theirs = dict(old), dict(new)
                old = tuple((n, c) for n, c in old if theirs.get(n) != c)
                new = tuple((n, c) for n, c in new if mine.get(n) != c)
            if old != new:
                out.append(f"{label}: {_brief(old) or 'none'} -> {_brief(new) or 'none'}")
        return out


def _brief(value: object) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12]  # a sha256
    if isinstance(value, tuple):
        return ", ".join(f"{name} {'/'.join(map(str, counts))}" for name, counts in value)
    return str(value)


@dataclass(frozen=True, kw_only=True)
class Fingerprint:
    """Everything that must match for a stored run to stand in for measuring that commit."""

    series: SeriesKey
    kernel_sha256: str | None
    initramfs_sha256: str | None
    bench_sha256: str
    rounds: int
    ci_tools_version: str
    cmdline: str | None  # the first boot's kernel command line (same index: same padding)
    bench_mode: str | None

    @classmethod
    def of(cls, result: Result) -> Fingerprint:
        target = result.target
        return cls(
            series=SeriesKey.of(result),
            kernel_sha256=target.kernel_sha256,
            initramfs_sha256=target.initramfs_sha256,
            bench_sha256=target.bench_binary_sha256,
            rounds=result.setup.rounds,
            ci_tools_version=str(result.data["provenance"]["ci_tools_version"]),
            cmdline=target.cmdline,
            bench_mode=result.setup.bench_mode,
        )

    def differences(self, other: Fingerprint) -> list[str]:
        """What differs from ``self`` (the stored run) to ``other`` (what would be measured)."""
        out = self.series.differences(other.series)
        for field, label in (
            ("kernel_sha256", "kernel"), ("initramfs_sha256", "initramfs"),
            ("bench_sha256", "bench binary"), ("rounds", "rounds a boot"),
            ("ci_tools_version", "ci_tools version"), ("cmdline", "kernel command line"),
            ("bench_mode", "bench mode"),
        ):  # fmt: skip
            old, new = getattr(self, field), getattr(other, field)
            if old != new:
                out.append(f"{label}: {_brief(old)} -> {_brief(new)}")
        return out


LOG_FORMAT = "%H%x09%P%x09%cI%x09%s"


@dataclass(frozen=True, kw_only=True)
class CommitInfo:
    commit: str
    parents: tuple[str, ...]
    date: str  # committer date, ISO 8601
    subject: str


def commit_info(repo: Path | None, commit: str) -> CommitInfo | None:
    """What git in ``repo`` knows of ``commit`` (None: not there, or no repository)."""
    try:
        line = git(repo, "log", "-1", f"--format={LOG_FORMAT}", commit, "--")
    except CiToolsError:
        return None
    parts = line.split("\t", 3)
    if len(parts) < 4:
        return None
    return CommitInfo(commit=parts[0], parents=tuple(parts[1].split()), date=parts[2],
                      subject=parts[3])  # fmt: skip


def from_results(results: Sequence[Result], info: CommitInfo) -> list[Record]:
    """Records of a commit from result files: each must say it measured that commit."""
    out = []
    for r in results:
        measured = r.data["provenance"]["git_commit"]
        if measured is not None and measured != info.commit:
            raise BadInputError(
                f"{r.path}: measured commit {measured}, not {info.commit}",
                hint="record each commit's own result files",
            )
        out.append(Record(commit=info.commit, parents=info.parents, date=info.date, result=r,
                          subject=info.subject))  # fmt: skip
    return out
