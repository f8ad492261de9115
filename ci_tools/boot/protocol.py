"""The BENCH console protocol: clean a serial log, then parse it.

The grammar (one record a line; ``bench.c`` and Kevlar's own bench binary
both speak it)::

    BENCH_START <suite>                 e.g. "BENCH_START kevlar"
    BENCH_MODE <quick|full>
    BENCH_PLAN <rounds> <count> <a,b,c>  (ci_tools' bench.c: what will follow)
    BENCH_ROUND <k>                     (ci_tools' bench.c: samples below are round k)
    BENCH <name> <iters> <total_ns> <per_iter_ns>
    BENCH_EXTRA <name> <value>
    BENCH_SKIP <name> <reason ...>
    BENCH_ERROR <message ...>
    BENCH_END

Everything else on the console (firmware, kernel log, shell noise) is
ignored, except kernel-panic lines, which are remembered.  A record the
grammar does not accept is kept as ``Malformed`` with its line number, never
silently dropped.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ci_tools.util.text import strip_ansi

# A Linux printk line: "[    1.234567] message".
_KLOG = re.compile(r"\[\s*\d+\.\d+\]\s")
_NAME = r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}"  # as the result schema's "name"
_INT = r"\d+"

_RECORDS = {
    "BENCH": re.compile(rf"^BENCH ({_NAME}) ({_INT}) ({_INT}) ({_INT})$"),
    "BENCH_START": re.compile(rf"^BENCH_START(?: ({_NAME}))?$"),
    "BENCH_MODE": re.compile(rf"^BENCH_MODE ({_NAME})$"),
    "BENCH_PLAN": re.compile(rf"^BENCH_PLAN ({_INT}) ({_INT}) ({_NAME}(?:,{_NAME})*)$"),
    "BENCH_ROUND": re.compile(rf"^BENCH_ROUND ({_INT})$"),
    "BENCH_EXTRA": re.compile(rf"^BENCH_EXTRA ({_NAME}) (-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)$"),
    "BENCH_SKIP": re.compile(rf"^BENCH_SKIP ({_NAME})(?: (.*))?$"),
    "BENCH_ERROR": re.compile(r"^BENCH_ERROR ?(.*)$"),
    "BENCH_END": re.compile(r"^BENCH_END$"),
}
_RECORD_WORD = re.compile(r"\b(BENCH(?:_[A-Z]+)?)\b")

# Fatal-error banners: Linux, Rust's panic handler (Kevlar), generic.
_PANIC = re.compile(
    r"Kernel panic - not syncing|panicked at |\bKERNEL PANIC\b|^PANIC[: ]",
)


def strip_line(line: str) -> str:
    """One console line without ANSI codes and carriage returns."""
    return strip_ansi(line).replace("\r", "")


def clean_console(raw: str) -> list[str]:
    """Serial output as plain lines: no CR, no ANSI codes, no kernel log lines.

    A kernel message printed into the middle of a user-space line (the
    serial port interleaves them) is removed and the two halves are joined.
    """
    text = strip_ansi(raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines: list[str] = []
    carry = ""
    for line in text.split("\n"):
        match = _KLOG.search(line)
        if match is not None:
            # Keep a user-space prefix that the kernel message cut short.
            carry += line[: match.start()]
            # The kernel line itself is kept: panic banners come from it.
            lines.append(line[match.start() :].strip())
            continue
        lines.append((carry + line).strip())
        carry = ""
    if carry:
        lines.append(carry.strip())
    return lines


@dataclass(frozen=True, kw_only=True)
class Sample:
    name: str
    round: int
    iterations: int
    total_ns: int
    per_iter_ns: int

    @property
    def ns_per_iter(self) -> float:
        """Per-iteration time at full precision (the printed one is rounded down)."""
        return self.total_ns / self.iterations


@dataclass(frozen=True, kw_only=True)
class Extra:
    name: str
    round: int
    value: float


@dataclass(frozen=True, kw_only=True)
class Skip:
    name: str
    round: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class Malformed:
    line_number: int
    text: str
    why: str


@dataclass(frozen=True, kw_only=True)
class Plan:
    rounds: int
    names: tuple[str, ...]


@dataclass(kw_only=True)
class ParsedOutput:
    suite: str | None = None
    mode: str | None = None
    plan: Plan | None = None
    started: bool = False
    ended: bool = False
    samples: list[Sample] = field(default_factory=list)
    extras: list[Extra] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    malformed: list[Malformed] = field(default_factory=list)
    panic: str | None = None
    cut_line: str | None = None  # a last line without its newline: output stopped mid-line
    late_panic: str | None = None  # a panic after BENCH_END: noted, the run stands

    def missing(self) -> list[tuple[int, str]]:
        """(round, name) pairs the plan announced that produced no line."""
        if self.plan is None:
            return []
        seen = {(s.round, s.name) for s in self.samples}
        seen |= {(s.round, s.name) for s in self.skips}
        return [
            (r, name)
            for r in range(1, self.plan.rounds + 1)
            for name in self.plan.names
            if (r, name) not in seen
        ]

    def incomplete_reason(self) -> str | None:
        """Why this output is not a complete run, or None when it is."""
        if self.panic is not None:
            return f"the guest kernel panicked: {self.panic}"
        if not self.started:
            return "no BENCH_START line: the bench binary never started its protocol"
        if self.errors:
            return "the bench binary reported an error: " + "; ".join(self.errors)
        if not self.ended:
            cut = f" (last line cut off: {self.cut_line!r})" if self.cut_line else ""
            return f"output ended before BENCH_END{cut}"
        if self.malformed:
            first = self.malformed[0]
            return (
                f"{len(self.malformed)} malformed BENCH line(s); first at console line "
                f"{first.line_number}: {first.text!r} ({first.why})"
            )
        missing = self.missing()
        if missing:
            shown = ", ".join(f"{n} (round {r})" for r, n in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            return f"fewer results than BENCH_PLAN announced: missing {shown}{more}"
        return None


class Parser:
    """Incremental parser: feed it clean lines as they arrive."""

    def __init__(self) -> None:
        self.out = ParsedOutput()
        self._line_number = 0
        self._round: int | None = None  # set by BENCH_ROUND
        self._occurrences: Counter[str] = Counter()  # rounds for output without BENCH_ROUND

    def _round_for(self, name: str) -> int:
        if self._round is not None:
            return self._round
        self._occurrences[name] += 1
        return self._occurrences[name]

    def feed(self, line: str) -> None:
        self._line_number += 1
        out = self.out
        if _PANIC.search(line):
            if out.ended:
                # After BENCH_END the results are whole: a bench binary that
                # returns as PID 1 makes Linux panic ("Attempted to kill init").
                out.late_panic = out.late_panic or line.strip()
            elif out.panic is None:
                out.panic = line.strip()
        word = _RECORD_WORD.search(line)
        if word is None:
            return
        if word.start() > 0:
            # A record glued to other output ("login: BENCH ..."): parse the record part.
            line = line[word.start() :]
        kind = word.group(1)
        pattern = _RECORDS.get(kind)
        if pattern is None:
            self._malformed(line, f"unknown record type {kind}")
            return
        match = pattern.match(line)
        if match is None:
            self._malformed(line, _explain(kind))
            return
        if out.ended and kind != "BENCH_START":
            self._malformed(line, "record after BENCH_END")
            return
        g = match.groups()
        if kind == "BENCH_START":
            if out.started and not out.ended:
                self._malformed(line, "second BENCH_START before BENCH_END")
                return
            out.started, out.ended, out.suite = True, False, g[0]
            return
        if not out.started:
            self._malformed(line, "record before BENCH_START")
            return
        if kind == "BENCH":
            name, iters, total, per = g[0], int(g[1]), int(g[2]), int(g[3])
            if iters == 0:
                self._malformed(line, "zero iterations")
                return
            out.samples.append(
                Sample(
                    name=name,
                    round=self._round_for(name),
                    iterations=iters,
                    total_ns=total,
                    per_iter_ns=per,
                )
            )
        elif kind == "BENCH_MODE":
            out.mode = g[0]
        elif kind == "BENCH_PLAN":
            names = tuple(g[2].split(","))
            if int(g[1]) != len(names):
                self._malformed(line, f"announces {g[1]} benchmarks but names {len(names)}")
                return
            out.plan = Plan(rounds=int(g[0]), names=names)
        elif kind == "BENCH_ROUND":
            self._round = int(g[0])
        elif kind == "BENCH_EXTRA":
            value = float(g[1])
            if not math.isfinite(value):
                self._malformed(line, "the value is not a finite number")
                return
            out.extras.append(Extra(name=g[0], round=self._round_for(g[0]), value=value))
        elif kind == "BENCH_SKIP":
            out.skips.append(
                Skip(name=g[0], round=self._round_for(g[0]), reason=(g[1] or "").strip())
            )
        elif kind == "BENCH_ERROR":
            out.errors.append(g[0].strip())
        elif kind == "BENCH_END":
            out.ended = True

    def _malformed(self, line: str, why: str) -> None:
        self.out.malformed.append(Malformed(line_number=self._line_number, text=line, why=why))


def _explain(kind: str) -> str:
    expected = {
        "BENCH": "expected 'BENCH <name> <iters> <total_ns> <per_iter_ns>' with integers",
        "BENCH_START": "expected 'BENCH_START [suite]'",
        "BENCH_MODE": "expected 'BENCH_MODE <quick|full>'",
        "BENCH_PLAN": "expected 'BENCH_PLAN <rounds> <count> <name,name,...>'",
        "BENCH_ROUND": "expected 'BENCH_ROUND <k>'",
        "BENCH_EXTRA": "expected 'BENCH_EXTRA <name> <number>'",
        "BENCH_SKIP": "expected 'BENCH_SKIP <name> <reason>'",
        "BENCH_END": "expected 'BENCH_END' alone on its line",
    }
    return expected.get(kind, "not a valid record")


def parse(lines: Iterable[str]) -> ParsedOutput:
    parser = Parser()
    for line in lines:
        parser.feed(line)
    return parser.out


def parse_console(raw: str) -> ParsedOutput:
    """Parse a whole console log.  A last line without a newline was cut off
    mid-write (the guest died or the log was truncated): it is kept aside as
    ``cut_line`` rather than parsed as a malformed record."""
    lines = clean_console(raw)
    cut = None
    if raw and not raw.endswith(("\n", "\r")) and lines:
        cut = lines.pop() or None
    out = parse(lines)
    out.cut_line = cut
    return out
