"""A result document, typed: the one module that knows its JSON layout.

``ResultBuilder`` gathers what a run measured, boot by boot, and writes the
document that ``schemas/results-v1.schema.json`` describes; ``Result`` reads
one back with typed accessors.  ``bench`` builds results and ``compare`` and
``report`` read them; none of them indexes a document by its keys.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ci_tools import __version__
from ci_tools.boot.outcome import Status
from ci_tools.boot.protocol import ParsedOutput
from ci_tools.util import git

SCHEMA_VERSION = 1  # what this ci_tools writes (``store.SCHEMAS``: what it reads)

TargetKind = Literal["guest", "host"]


def now() -> str:
    """The current time as a result file records it (UTC, whole seconds)."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class Target:
    """What ran: a kernel booted as a guest, or the bench binary natively (host)."""

    name: str  # a profile name, "linux" or "host"
    kind: TargetKind
    bench_binary: Path
    bench_binary_sha256: str
    suite: str | None = None  # as named on the BENCH_START line
    profile: str | None = None
    kernel: Path | None = None
    kernel_sha256: str | None = None
    cmdline: str | None = None  # the first boot's
    initramfs_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        kernel = None
        if self.kernel is not None:
            kernel = {"path": str(self.kernel), "sha256": self.kernel_sha256}
        initramfs = {"sha256": self.initramfs_sha256} if self.initramfs_sha256 else None
        return {
            "name": self.name, "kind": self.kind, "profile": self.profile, "kernel": kernel,
            "cmdline": self.cmdline,
            "bench_binary": {"path": str(self.bench_binary), "sha256": self.bench_binary_sha256,
                             "suite": self.suite},
            "initramfs": initramfs,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        kernel, binary, initramfs = data["kernel"], data["bench_binary"], data["initramfs"]
        return cls(
            name=data["name"],
            kind=data["kind"],
            bench_binary=Path(binary["path"]),
            bench_binary_sha256=binary["sha256"],
            suite=binary["suite"],
            profile=data["profile"],
            kernel=Path(kernel["path"]) if kernel else None,
            kernel_sha256=kernel["sha256"] if kernel else None,
            cmdline=data["cmdline"],
            initramfs_sha256=initramfs["sha256"] if initramfs else None,
        )


@dataclass(frozen=True, kw_only=True)
class QemuSetup:
    version: str
    command: tuple[str, ...]
    machine: str
    memory_mb: int

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "command": list(self.command),
                "machine": self.machine, "memory_mb": self.memory_mb}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QemuSetup:
        return cls(version=data["version"], command=tuple(data["command"]),
                   machine=data["machine"], memory_mb=data["memory_mb"])  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Setup:
    """How the samples were taken: what ``compare`` checks before it compares."""

    accelerator: str  # "kvm", "tcg" or "none" (native)
    accelerator_reason: str
    mode: str  # "deterministic" or "wallclock"
    quick: bool
    rounds: int
    boots: int
    qemu: QemuSetup | None  # None: a native run
    cpu_model: str  # what the benchmark saw: QEMU's -cpu model, else the host CPU
    host_cpu: str
    bench_mode: str | None = None  # as printed on the BENCH_MODE line

    def to_dict(self) -> dict[str, Any]:
        return {
            "accelerator": self.accelerator, "accelerator_reason": self.accelerator_reason,
            "mode": self.mode, "quick": self.quick, "rounds": self.rounds, "boots": self.boots,
            "qemu": self.qemu.to_dict() if self.qemu is not None else None,
            "cpu_model": self.cpu_model, "host_cpu": self.host_cpu, "bench_mode": self.bench_mode,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Setup:
        qemu = data["qemu"]
        return cls(
            accelerator=data["accelerator"],
            accelerator_reason=data["accelerator_reason"],
            mode=data["mode"],
            quick=data["quick"],
            rounds=data["rounds"],
            boots=data["boots"],
            qemu=QemuSetup.from_dict(qemu) if qemu is not None else None,
            cpu_model=data["cpu_model"],
            host_cpu=data["host_cpu"],
            bench_mode=data.get("bench_mode"),
        )


@dataclass(frozen=True, kw_only=True)
class BootRecord:
    """One boot (or the one native run) and how it ended."""

    index: int
    cmdline: str | None
    status: Status
    wall_s: float
    console_log: str | None  # relative to the result file
    attempts: tuple[Status, ...] = ()  # earlier attempts, retried (infrastructure failures)
    forwarded_ports: Mapping[int, int] | None = None  # guest port -> host port, as QEMU bound

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "index": self.index, "cmdline": self.cmdline, "status": self.status.to_dict(),
            "wall_s": self.wall_s, "console_log": self.console_log,
            "attempts": [a.to_dict() for a in self.attempts],
        }  # fmt: skip
        if self.forwarded_ports is not None:
            record["forwarded_ports"] = {str(g): h for g, h in self.forwarded_ports.items()}
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BootRecord:
        ports = data.get("forwarded_ports")
        return cls(
            index=data["index"],
            cmdline=data["cmdline"],
            status=Status.from_dict(data["status"]),
            wall_s=data["wall_s"],
            console_log=data["console_log"],
            attempts=tuple(Status.from_dict(a) for a in data["attempts"]),
            forwarded_ports={int(g): h for g, h in ports.items()} if ports is not None else None,
        )


def _boot_and_round(entry: Mapping[str, Any]) -> tuple[int, int]:
    return entry["boot"], entry["round"]


@dataclass(kw_only=True)
class ResultBuilder:
    """Samples and boot records gathered so far; ``document`` makes them a result.

    A run that fails part-way still has a document to write: every sample
    measured before the failure, and every boot with its status.
    """

    started_at: str = field(default_factory=now)
    boots: list[BootRecord] = field(default_factory=list)
    _benchmarks: dict[str, dict[str, list[dict[str, int]]]] = field(default_factory=dict)
    _skipped: list[dict[str, Any]] = field(default_factory=list)
    _extras: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _suite: str | None = None
    _bench_mode: str | None = None

    def add(self, boot_index: int, parsed: ParsedOutput) -> None:
        """What one boot's console said: its samples, skips and extras."""
        self._suite = self._suite or parsed.suite
        self._bench_mode = self._bench_mode or parsed.mode
        for s in parsed.samples:
            self._benchmarks.setdefault(s.name, {"samples": []})["samples"].append(
                {"boot": boot_index, "round": s.round, "iterations": s.iterations,
                 "total_ns": s.total_ns, "per_iter_ns": s.per_iter_ns}
            )  # fmt: skip
        for k in parsed.skips:
            self._skipped.append(
                {"name": k.name, "boot": boot_index, "round": k.round, "reason": k.reason}
            )
        for e in parsed.extras:
            self._extras.setdefault(e.name, []).append(
                {"boot": boot_index, "round": e.round, "value": e.value}
            )

    def add_boot(self, record: BootRecord) -> None:
        self.boots.append(record)

    def add_result(self, result: Result, *, console_logs: Path | None = None) -> None:
        """Every boot of another result, with its samples (``merge``); ``console_logs``:
        the folder the new document will be in (its console log paths are relative)."""
        for b in result.boots:
            log = b.console_log
            if console_logs is not None and log is not None and result.path is not None:
                log = os.path.relpath(result.path.parent / log, console_logs)
            self.boots.append(replace(b, console_log=log))
        for name, bench in result.data["benchmarks"].items():
            self._benchmarks.setdefault(name, {"samples": []})["samples"] += bench["samples"]
        self._skipped += result.data["skipped"]
        for name, values in result.data["extras"].items():
            self._extras.setdefault(name, []).extend(values)
        self._suite = self._suite or result.target.suite
        self._bench_mode = self._bench_mode or result.setup.bench_mode

    def document(self, *, target: Target, setup: Setup, status: Status) -> dict[str, Any]:
        """The result document (not yet validated: ``store.save`` does that)."""
        commit, dirty = git.head()
        # Boot by boot, round by round, whatever order the boots ended in.
        order = _boot_and_round
        boots = sorted(self.boots, key=lambda b: b.index)
        return {
            "schema_version": SCHEMA_VERSION,
            "target": replace(target, suite=self._suite).to_dict(),
            "setup": replace(setup, bench_mode=self._bench_mode).to_dict(),
            "provenance": {
                "host": socket.gethostname(),
                "git_commit": commit,
                "git_dirty": dirty,
                "started_at": self.started_at,
                "finished_at": now(),
                "ci_tools_version": __version__,
            },
            "status": status.to_dict(),
            "console_log": boots[0].console_log if boots else None,
            "boots": [b.to_dict() for b in boots],
            "benchmarks": {
                name: {**bench, "samples": sorted(bench["samples"], key=order)}
                for name, bench in self._benchmarks.items()
            },
            "skipped": sorted(self._skipped, key=order),
            "extras": {name: sorted(v, key=order) for name, v in self._extras.items()},
        }


@dataclass(frozen=True)
class Result:
    """A validated result document, read through typed accessors."""

    data: Mapping[str, Any]
    path: Path | None = None

    @property
    def name(self) -> str:
        return str(self.data["target"]["name"])

    @property
    def target(self) -> Target:
        return Target.from_dict(self.data["target"])

    @property
    def setup(self) -> Setup:
        return Setup.from_dict(self.data["setup"])

    @property
    def status(self) -> Status:
        return Status.from_dict(self.data["status"])

    @property
    def boots(self) -> list[BootRecord]:
        return [BootRecord.from_dict(b) for b in self.data["boots"]]

    def benchmark_names(self) -> list[str]:
        return list(self.data["benchmarks"])

    def _samples(self, name: str) -> Sequence[Mapping[str, int]]:
        bench = self.data["benchmarks"].get(name)
        return bench["samples"] if bench is not None else []

    def samples(self, name: str) -> list[float]:
        """Per-iteration nanoseconds of every sample of a benchmark, full precision."""
        return [s["total_ns"] / s["iterations"] for s in self._samples(name)]

    def samples_by_boot(self, name: str) -> dict[int, list[float]]:
        """``samples``, grouped by the boot that took them."""
        by_boot: dict[int, list[float]] = {}
        for s in self._samples(name):
            by_boot.setdefault(s["boot"], []).append(s["total_ns"] / s["iterations"])
        return by_boot

    def iterations(self, name: str) -> set[int]:
        return {s["iterations"] for s in self._samples(name)}

    def median(self, name: str) -> float | None:
        values = self.samples(name)
        return statistics.median(values) if values else None

    def skipped(self) -> dict[str, str]:
        """Benchmark name -> reason, for benchmarks skipped in any round."""
        return {s["name"]: s["reason"] for s in self.data["skipped"]}

    def skip_reasons(self) -> dict[str, list[str]]:
        """Benchmark name -> every distinct reason it was skipped for, in order."""
        out: dict[str, list[str]] = {}
        for s in self.data["skipped"]:
            reasons = out.setdefault(s["name"], [])
            if s["reason"] not in reasons:
                reasons.append(s["reason"])
        return out

    def extras(self) -> dict[str, list[float]]:
        """Extra figures (higher is better, not gated): name -> every value."""
        return {name: [v["value"] for v in values] for name, values in self.data["extras"].items()}
