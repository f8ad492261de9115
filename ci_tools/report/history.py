"""Main's history for people: the series and their change points as a terminal table,
GitHub markdown, and a Mermaid chart (GitHub draws ``xychart-beta`` blocks in comments
and job summaries)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from tabulate import tabulate

from ci_tools.history.changes import CONFIDENCE, Step
from ci_tools.history.series import Series
from ci_tools.report.tables import ns
from ci_tools.util import markdown as md

_HEADERS = ["profile", "benchmark", "commit", "date", "before ns", "after ns", "step",
            f"{CONFIDENCE:.0%} interval", "commits before/after"]  # fmt: skip


def step_text(step: Step) -> str:
    """'+5.0% slower' / '-2.0% faster': the step as the tables and charts say it."""
    change = step.change.ratio - 1
    return f"{change:+.1%} {'slower' if change > 0 else 'faster'}"


def interval_text(step: Step) -> str:
    return f"{step.change.low - 1:+.1%}..{step.change.high - 1:+.1%}"


def _cells(step: Step, series: Sequence[Series], *, markdown: bool) -> list[str]:
    point = series[step.series].points[step.change.index]
    c = step.change
    names = [step.profile, step.benchmark, step.label]
    if markdown:
        names = [md.code(n) for n in names]
    return [*names, point.date[:10], ns(c.before), ns(c.after), step_text(step),
            interval_text(step), f"{c.commits_before}/{c.commits_after}"]  # fmt: skip


def series_lines(series: Sequence[Series]) -> list[str]:
    """One line per series: its profile, commits, setup, and why it split from the last."""
    out = []
    for k, s in enumerate(series):
        why = f"; new series: {'; '.join(s.changed)}" if s.changed else ""
        first, last = s.points[0], s.points[-1]
        out.append(
            f"[{k + 1}] {s.profile}: {len(s.points)} commit(s) {first.label}..{last.label}, "
            f"{s.key.short()}{why}"
        )
    return out


def history_text(series: Sequence[Series], steps: Sequence[Step]) -> str:
    commits = len({p.commit or p.label for s in series for p in s.points})
    profiles = len({s.profile for s in series})
    lines = [f"history: {commits} commit(s), {profiles} profile(s), {len(series)} series", ""]
    lines += series_lines(series)
    lines.append("")
    if steps:
        rows = [_cells(st, series, markdown=False) for st in steps]
        lines.append(f"change points ({len(steps)}; after/before, per-iteration ns):")
        lines.append(tabulate(rows, headers=_HEADERS, tablefmt="simple", disable_numparse=True))
    else:
        lines.append("no change points: no benchmark stepped in these series")
    return "\n".join(lines)


def history_markdown(series: Sequence[Series], steps: Sequence[Step]) -> str:
    lines = ["### Performance history of main", ""]
    lines += [f"- {md.text(line)}" for line in series_lines(series)]
    lines.append("")
    if steps:
        rows = [_cells(st, series, markdown=True) for st in steps]
        lines.append(tabulate(rows, headers=_HEADERS, tablefmt="github", disable_numparse=True))
        # The newest steps drawn, where a picture says more than the row.
        for st in sorted(steps, key=lambda st: series[st.series].points[st.change.index].date,
                         reverse=True)[:CHARTS]:  # fmt: skip
            lines += ["", mermaid_chart(series[st.series], st.benchmark)]
    else:
        lines.append("No change points.")
    return "\n".join(lines) + "\n"


CHARTS = 4  # Mermaid charts in the markdown summary, at most

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+ -]")


def _label(text: str) -> str:
    """Text inside a Mermaid string: names come from result files, so only plain characters."""
    return _UNSAFE.sub("_", text)[:60]


def mermaid_chart(
    series: Series, benchmark: str, *, last: int = 30, then: tuple[str, float] | None = None
) -> str:
    """A fenced ``xychart-beta`` block: the benchmark's median per commit over the last
    ``last`` commits of the series (None when it has no value there); ``then``, a last
    point (a pull request's head: its label and median)."""
    points = [
        (p.label[:7], m) for p in series.points[-last:] if (m := p.median(benchmark)) is not None
    ]
    if not points:
        return ""
    points += [then] if then is not None else []
    medians = [m for _, m in points]
    low, high = min(medians), max(medians)
    pad = max((high - low) * 0.1, high * 0.01)
    labels = ", ".join(f'"{_label(label)}"' for label, _ in points)
    values = ", ".join(f"{m:.6g}" for m in medians)
    title = _label(f"{series.profile} {benchmark} ns per iteration ({series.key.mode})")
    return "\n".join([
        "```mermaid", "xychart-beta", f'    title "{title}"', f"    x-axis [{labels}]",
        f'    y-axis "ns" {max(low - pad, 0):.6g} --> {high + pad:.6g}', f"    line [{values}]",
        "```", "",
    ])  # fmt: skip
