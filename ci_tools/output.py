"""Everything ci_tools prints goes through here.

In a terminal: plain, readable lines on stderr (stdout is kept for tables and
paths a script may want).  In GitHub Actions (``GITHUB_ACTIONS=true``):
``::group::`` blocks, workflow-command annotations, escaped as GitHub
requires and capped at GitHub's per-step display limit, and an appended job
summary that stays under GitHub's 1 MiB limit.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# GitHub shows at most this many annotations of each level per step.
ANNOTATION_CAP = 10
# GitHub rejects a step summary larger than 1 MiB.
SUMMARY_LIMIT = 1024 * 1024

_annotation_counts: dict[str, int] = {"error": 0, "warning": 0, "notice": 0}
_started = time.monotonic()


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _emit(line: str) -> None:
    # One write per line: the boots of a parallel run print from several threads.
    sys.stderr.write(f"{line}\n")
    sys.stderr.flush()


def info(message: str) -> None:
    _emit(message)


def phase(message: str) -> None:
    """A step of a run that may take a while: shown with elapsed time."""
    _emit(f"[{time.monotonic() - _started:6.1f}s] {message}")


def warn(message: str) -> None:
    if in_github_actions():
        annotate("warning", message)
    else:
        _emit(f"warning: {message}")


def error(message: str) -> None:
    if in_github_actions():
        annotate("error", message)
    else:
        _emit(f"error: {message}")


def command(argv: Sequence[str]) -> None:
    _emit(f"$ {shlex.join(argv)}")


@contextmanager
def group(title: str) -> Iterator[None]:
    if in_github_actions():
        _emit(f"::group::{escape_data(title)}")
        try:
            yield
        finally:
            _emit("::endgroup::")
    else:
        phase(title)
        yield


def escape_data(value: str) -> str:
    """Escape a workflow-command message (GitHub's toolkit ``escapeData``)."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """Escape a workflow-command property (GitHub's toolkit ``escapeProperty``)."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def format_annotation(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> str:
    props = []
    if file is not None:
        props.append(f"file={escape_property(file)}")
    if line is not None:
        props.append(f"line={line}")
    if col is not None:
        props.append(f"col={col}")
    if title is not None:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    return f"{head}::{escape_data(message)}"


def annotate(
    level: str,
    message: str,
    *,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
    title: str | None = None,
) -> bool:
    """Emit an annotation; returns False once the per-step cap is reached.

    Callers that have more to say put the full list in the job summary.
    """
    count = _annotation_counts.get(level, 0)
    if count >= ANNOTATION_CAP:
        return False
    _annotation_counts[level] = count + 1
    _emit(format_annotation(level, message, file=file, line=line, col=col, title=title))
    return True


def summary_room() -> int:
    """How many bytes the job summary can still take (GitHub's limit less what is there)."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    used = Path(path).stat().st_size if path and Path(path).exists() else 0
    return max(SUMMARY_LIMIT - used, 0)


def append_summary(markdown: str, *, elsewhere: str = "the uploaded result files") -> bool:
    """Append to ``$GITHUB_STEP_SUMMARY``; returns False when not in Actions.

    Never overwrites what earlier steps wrote; if the addition would push the
    file past GitHub's limit, a short note pointing at ``elsewhere`` (where
    the full text is) is written instead.  Callers with a lot to say fit it
    to ``summary_room()`` first.
    """
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    room = summary_room()
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    if len(text.encode()) > room:
        text = (
            "\n> ci_tools: this section was left out because the job summary would "
            f"exceed GitHub's 1 MiB limit; see {elsewhere}.\n"
        )
        if len(text.encode()) > room:
            return False
    with Path(path).open("a", encoding="utf-8") as fh:
        fh.write(text)
    return True
