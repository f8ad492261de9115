"""Compiler diagnostics where people look.

cargo runs with ``--message-format=json``; ``parse_cargo`` turns its output
into ``Diagnostic`` records and a transcript.  ``report`` then shows them:

- in a terminal, the transcript: cargo's own status lines and each message
  rendered exactly as cargo would have printed it;
- in GitHub Actions, additionally one annotation per error and warning on its
  file and line (escaped and capped by ``ci_tools.output``; one notice tells
  how many did not fit), and the list in the job summary.

rustfmt's ``--check`` output is split per file by ``parse_rustfmt`` and
reported the same way by ``report_format``.

The job summary has room for 1 MiB in all (``output.summary_room``): a
summary that would not fit loses detail, never its list of what is wrong
(compiler output, then long diffs, then diffs at all; names last, with a
count of those left out).  The full text is always in the step's log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ci_tools import output
from ci_tools.util import markdown
from ci_tools.util.text import strip_ansi

# rustc's closing remarks: no span, nothing to annotate.
_NOISE = re.compile(r"^(aborting due to|For more information about|Some errors have detailed)")
_LEVELS = {"error": "error", "error: internal compiler error": "error", "warning": "warning"}


@dataclass(frozen=True, kw_only=True)
class Diagnostic:
    level: str  # "error" or "warning" (rustc's other levels are not kept)
    message: str
    code: str | None = None
    file: str | None = None  # relative to the report's base folder when inside it
    line: int | None = None
    column: int | None = None
    rendered: str = ""

    @property
    def headline(self) -> str:
        code = f"[{self.code}]" if self.code else ""
        return f"{self.level}{code}: {self.message}"

    @property
    def location(self) -> str:
        if self.file is None:
            return ""
        return ":".join(str(p) for p in (self.file, self.line, self.column) if p is not None)


@dataclass(kw_only=True)
class CargoRun:
    diagnostics: list[Diagnostic] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)  # what a terminal shows, in order
    success: bool | None = None  # from cargo's build-finished message
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.level == "warning"]

    def counts(self) -> str:
        return f"{_plural(len(self.errors), 'error')}, {_plural(len(self.warnings), 'warning')}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _source_path(file_name: str, manifest_path: str | None, base: Path) -> str:
    """A span's file, relative to ``base`` (the repository) when it lies inside.

    rustc names files relative to the workspace root, an ancestor of the
    package's folder: the first ancestor where the file exists is it.
    """
    path = Path(file_name)
    if not path.is_absolute():
        package = Path(manifest_path).parent if manifest_path else base
        candidates = [package, *package.parents]
        path = next((d / path for d in candidates if (d / path).exists()), package / path)
    try:
        return path.resolve().relative_to(base.resolve()).as_posix()
    except ValueError:
        return str(path)


def _diagnostic(data: dict[str, Any], base: Path) -> Diagnostic | None:
    message = data.get("message") or {}
    level = _LEVELS.get(message.get("level", ""))
    text = message.get("message", "")
    if level is None or (not message.get("spans") and _NOISE.match(text)):
        return None
    spans = message.get("spans") or []
    primary = next((s for s in spans if s.get("is_primary")), spans[0] if spans else None)
    code = (message.get("code") or {}).get("code")
    if primary is None:
        return Diagnostic(
            level=level, message=text, code=code, rendered=message.get("rendered") or ""
        )
    return Diagnostic(
        level=level,
        message=text,
        code=code,
        file=_source_path(primary["file_name"], data.get("manifest_path"), base),
        line=primary.get("line_start"),
        column=primary.get("column_start"),
        rendered=message.get("rendered") or "",
    )


def parse_cargo(text: str, *, base: Path) -> CargoRun:
    """Split cargo's JSON messages from its status lines; keep what a person needs."""
    run = CargoRun()
    seen: set[tuple[object, ...]] = set()
    for line in text.splitlines():
        stripped = line.strip()
        data: Any = None
        if stripped.startswith("{"):
            try:
                data = json.loads(stripped)
            except json.JSONDecodeError:
                data = None
        if not isinstance(data, dict):
            if stripped:
                run.transcript.append(strip_ansi(line.rstrip()))
            continue
        reason = data.get("reason")
        if reason == "compiler-message":
            rendered = ((data.get("message") or {}).get("rendered") or "").rstrip("\n")
            diagnostic = _diagnostic(data, base)
            key = (rendered,) if diagnostic is None else (diagnostic.headline, diagnostic.location)
            if key in seen:  # the same message for two targets of one package
                continue
            seen.add(key)
            if rendered:
                run.transcript.append(strip_ansi(rendered))
            if diagnostic is not None:
                run.diagnostics.append(diagnostic)
        elif reason == "compiler-artifact":
            run.artifacts.append(data)
        elif reason == "build-finished":
            run.success = bool(data.get("success"))
    return run


# Where the full text of every finding is when the job summary cannot hold it.
LOG = "the step's log"


def _size(text: str) -> int:
    return len(text.encode())


def _first_fitting(versions: Iterable[str], limit: int) -> str:
    """The first (richest) version within ``limit`` bytes; the last one is built to fit."""
    text = ""
    for text in versions:
        if _size(text) <= limit:
            break
    return text


def _rows_within(head: str, rows: Sequence[str], limit: int, more: Callable[[int], str]) -> str:
    """``head``, then as many ``rows`` (one line each) as fit, then ``more(left out)``."""
    used = _size(head) + _size(more(len(rows)))
    kept = 0
    for row in rows:
        used += _size(row) + 1
        if used > limit:
            break
        kept += 1
    text = head + "".join(f"{row}\n" for row in rows[:kept])
    return text + (more(len(rows) - kept) if kept < len(rows) else "")


def _fenced(language: str, body: str) -> list[str]:
    """A code block that text from the compiler cannot close early."""
    return [f"```{language}", body.replace("```", "`\u200b``"), "```"]


def summary_markdown(
    title: str, run: CargoRun, *, failed: bool, limit: int = output.SUMMARY_LIMIT
) -> str:
    """The job summary of a cargo run, within ``limit`` bytes (see the module's docstring)."""
    mark = "❌" if failed else ("⚠️" if run.diagnostics else "✅")
    head = f"### {mark} {title}: {run.counts()}\n\n"
    if not run.diagnostics:
        return head
    head += "| level | where | message |\n|---|---|---|\n"
    rows = []
    for d in run.diagnostics:
        level = f"{d.level}[{d.code}]" if d.code else d.level
        where = f"`{d.location}`" if d.location else ""
        rows.append(f"| {level} | {where} | {markdown.cell(d.message)} |")
    table = head + "".join(f"{row}\n" for row in rows)

    def versions() -> Iterable[str]:
        rendered = "\n".join(d.rendered.rstrip() for d in run.diagnostics if d.rendered)
        if rendered:
            details = ["", "<details><summary>compiler output</summary>", ""]
            yield table + "\n".join([*details, *_fenced("text", rendered), "</details>"]) + "\n"
            yield table + f"\n*The compiler's full output is in {LOG}.*\n"
        yield table
        yield _rows_within(head, rows, limit, lambda n: f"\n*… and {n} more, listed in {LOG}.*\n")

    return _first_fitting(versions(), limit)


def annotate_all(
    title: str, items: Sequence[tuple[str, str, str | None, int | None, int | None]]
) -> None:
    """(level, message, file, line, column) as annotations; one notice for those over the cap."""
    dropped = 0
    for level, message, file, line, column in items:
        if not output.annotate(level, message, file=file, line=line, col=column, title=title):
            dropped += 1
    if dropped:
        output.annotate(
            "notice",
            f"{dropped} more finding(s) of {title} are not shown as annotations "
            f"(GitHub shows {output.ANNOTATION_CAP} per kind and step); "
            "the job summary lists all of them",
            title=title,
        )


def report(title: str, run: CargoRun, *, failed: bool, warnings: bool = True) -> None:
    """Show a cargo run: transcript in a terminal; annotations and summary in Actions.

    ``warnings=False`` (a kernel built for a benchmark): errors only, and the count
    of the warnings left out; check and clippy are where warnings are read."""
    with output.group(f"{title}: cargo output"):
        for entry in run.transcript:
            if warnings or not entry.startswith("warning"):
                output.info(entry)
    shown = run.diagnostics if warnings else run.errors
    if output.in_github_actions() and (warnings or failed):
        annotate_all(
            title,
            [(d.level, d.rendered.rstrip() or d.headline, d.file, d.line, d.column) for d in shown],
        )
        markdown = summary_markdown(title, run, failed=failed, limit=output.summary_room())
        output.append_summary(markdown, elsewhere=LOG)
    left_out = "" if warnings or not run.warnings else " (not shown here: clippy lists them)"
    output.info(f"{title}: {run.counts()}{left_out}")


# --------------------------------------------------------------------------
# rustfmt

_DIFF_HEADER = re.compile(r"^Diff in (?P<file>.+?)(?::(?P<line>\d+):| at line (?P<old>\d+):)$")


@dataclass(frozen=True, kw_only=True)
class FormatDiff:
    file: str  # relative to the base folder when inside it
    line: int
    diff: str


def parse_rustfmt(text: str, *, base: Path) -> tuple[list[FormatDiff], list[str]]:
    """``cargo fmt --check`` output -> (diffs, other lines such as parse errors)."""
    diffs: list[FormatDiff] = []
    other: list[str] = []
    current: tuple[str, int] | None = None
    body: list[str] = []

    def flush() -> None:
        if current is not None:
            diffs.append(
                FormatDiff(file=current[0], line=current[1], diff="\n".join(body).rstrip())
            )

    for raw in text.splitlines():
        line = strip_ansi(raw)
        header = _DIFF_HEADER.match(line)
        if header:
            flush()
            file = _source_path(header["file"], None, base)
            current, body = (file, int(header["line"] or header["old"])), []
        elif current is not None and (line[:1] in (" ", "+", "-") or line == ""):
            body.append(line)
        elif line.strip():
            other.append(line)
    flush()
    return diffs, other


def by_file(diffs: Iterable[FormatDiff]) -> dict[str, list[FormatDiff]]:
    files: dict[str, list[FormatDiff]] = {}
    for d in diffs:
        files.setdefault(d.file, []).append(d)
    return files


# When every diff does not fit the job summary, each is cut to these many lines in turn.
SHORT_DIFF_LINES = (40, 10)


def _diff_lines(hunks: Sequence[FormatDiff]) -> list[str]:
    return [line for h in hunks for line in (f"@@ line {h.line} @@", *h.diff.splitlines())]


def format_summary(
    title: str,
    diffs: Sequence[FormatDiff],
    other: Sequence[str],
    *,
    fix: str,
    limit: int = output.SUMMARY_LIMIT,
) -> str:
    """The job summary of ``cargo fmt --check``, within ``limit`` bytes: every file's
    diff; or each diff cut short; or the file names; or as many names as fit."""
    files = by_file(diffs)
    mark = "❌" if files or other else "✅"
    head = f"### {mark} {title}: {_plural(len(files), 'file')} to reformat\n\n"
    if files:
        head += f"Fix: {markdown.code(fix, limit=2000, table=False)}\n\n"
    tail = "\n".join(_fenced("text", "\n".join(other[:50]))) + "\n" if other else ""

    def with_diffs(cut: int | None) -> str:
        lines = []
        for name, hunks in files.items():
            body = _diff_lines(hunks)
            shown = body if cut is None else body[:cut]
            lines += [f"**{markdown.code(name, limit=300, table=False)}**", ""]
            lines += _fenced("diff", "\n".join(shown))
            if len(shown) < len(body):
                lines.append(f"*… {len(body) - len(shown)} more lines in {LOG}.*")
            lines.append("")
        return head + "\n".join(lines) + "\n" + tail

    names = [
        f"- {markdown.code(name, limit=300, table=False)}: {_plural(len(hunks), 'place')}, "
        f"from line {hunks[0].line}"
        for name, hunks in files.items()
    ]

    def versions() -> Iterable[str]:
        yield with_diffs(None)
        for cut in SHORT_DIFF_LINES:
            yield with_diffs(cut)
        listing = head + f"The diffs are in {LOG}.\n\n"
        yield listing + "".join(f"{n}\n" for n in names) + tail
        yield (
            _rows_within(listing, names, limit - _size(tail), lambda n: f"- … and {n} more files\n")
            + tail
        )

    return _first_fitting(versions(), limit)


def report_format(
    title: str, diffs: Sequence[FormatDiff], other: Sequence[str], *, fix: str
) -> None:
    """rustfmt's findings; ``fix`` is the command that formats every file it checked."""
    files = by_file(diffs)
    for name, hunks in files.items():
        output.info(f"{name}: {_plural(len(hunks), 'place')} not formatted as rustfmt would")
        for hunk in hunks:
            output.info(f"Diff in {name}:{hunk.line}:\n{hunk.diff}")
    for line in other:
        output.info(line)
    if not output.in_github_actions():
        return
    annotate_all(
        title,
        [
            (
                "error",
                f"not formatted as rustfmt would ({_plural(len(hunks), 'place')}); "
                f"run `{fix}`\n\n{hunks[0].diff}",
                name,
                hunks[0].line,
                None,
            )
            for name, hunks in files.items()
        ],
    )
    summary = format_summary(title, diffs, other, fix=fix, limit=output.summary_room())
    output.append_summary(summary, elsewhere=LOG)
