"""The history report: one static, self-contained HTML file (no script, no network).

Per series (a profile under one setup) and benchmark, an inline SVG chart:
each commit's median as a line, its spread over boots (lowest to highest) as
a bar, and each change point as a red dashed marker that links to its commit
(``class="change-point"``, ``data-commit``).  Then the cost of each profile
now, against the others and the Linux reference (``compare.cost``), and the
commits.  Every text that came from a result file or git is escaped.

Commit links follow a template with ``{commit}`` (``--commit-url``; in GitHub
Actions ``$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/commit/{commit}``); without
one they go to the commit's row in the report's own commit table.
"""

from __future__ import annotations

import html
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ci_tools.compare.cost import Cost
from ci_tools.history.changes import CONFIDENCE, Step
from ci_tools.history.series import Point, Series
from ci_tools.report.history import interval_text, series_lines, step_text
from ci_tools.report.tables import cost_html, ns

WIDTH, HEIGHT = 470, 200  # two charts side by side
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 32
LINE, SPREAD, MARK = "#1f77b4", "#9ecae1", "#d62728"

_STYLE = f"""
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 980px;
       color: #222; background: #fff; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; margin-top: 32px; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 8px 8px 16px 0; vertical-align: top; }}
figcaption {{ font-weight: 600; }}
.note, .setup {{ color: #555; }} .slower {{ color: {MARK}; }} .faster {{ color: #2ca02c; }}
svg text {{ font: 11px system-ui, sans-serif; fill: #444; }}
"""


def commit_url_template(explicit: str | None, env: Mapping[str, str] = os.environ) -> str | None:
    """``--commit-url``, else GitHub's commit page of the repository the job runs for."""
    if explicit:
        return explicit
    server, repo = env.get("GITHUB_SERVER_URL", "https://github.com"), env.get("GITHUB_REPOSITORY")
    return f"{server}/{repo}/commit/{{commit}}" if repo else None


@dataclass(frozen=True, kw_only=True)
class _Links:
    template: str | None

    def commit(self, commit: str | None, label: str) -> str:
        if commit is None:
            return f"#run-{label}"
        if self.template is None:
            return f"#commit-{commit}"
        return self.template.replace("{commit}", commit)


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _padded(low: float, high: float) -> tuple[float, float]:
    """The value range a chart shows: [low, high] with a margin (a flat line gets one too)."""
    pad = max((high - low) * 0.08, abs(high) * 0.01, 1e-9)
    return low - pad, high + pad


def chart(series: Series, benchmark: str, steps: Sequence[Step], links: _Links) -> str:
    """One benchmark of one series as inline SVG."""
    points: list[tuple[int, Point, tuple[float, ...]]] = [
        (i, p, v) for i, p in enumerate(series.points) if (v := p.values(benchmark))
    ]
    if not points:
        return ""
    low, high = _padded(min(min(v) for _, _, v in points), max(max(v) for _, _, v in points))
    a = (TOP - (HEIGHT - BOTTOM)) / (high - low)
    b = HEIGHT - BOTTOM - a * low
    n = len(series.points)
    step_x = (WIDTH - LEFT - RIGHT) / max(n - 1, 1)

    def x(i: float) -> float:
        return LEFT + i * step_x if n > 1 else LEFT + (WIDTH - LEFT - RIGHT) / 2

    def y(v: float) -> float:
        return a * v + b

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
           f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>']  # fmt: skip
    for k in range(5):  # the y axis: five values, with grid lines
        value = low + (high - low) * k / 4
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" '
                   f'y2="{y(value):.1f}" stroke="#eee"/>'
                   f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                   f"{_esc(ns(value))}</text>")  # fmt: skip
    every = max(1, n // 5)  # the x axis: about five commits named, and the last
    for i, p, _ in points:
        if (i % every == 0 and n - 1 - i >= every / 2) or i == n - 1:
            anchor = "end" if i == n - 1 and n > 1 else "middle"
            out.append(f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" '
                       f'text-anchor="{anchor}">{_esc(p.label[:7])}</text>')  # fmt: skip
    for i, _, v in points:
        out.append(f'<line class="spread" x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(min(v)):.1f}" '
                   f'y2="{y(max(v)):.1f}" stroke="{SPREAD}" stroke-width="6" '
                   f'stroke-linecap="round"/>')  # fmt: skip
    line = " ".join(f"{x(i):.1f},{y(p.median(benchmark) or 0):.1f}" for i, p, _ in points)
    out.append(f'<polyline class="median" points="{line}" fill="none" stroke="{LINE}" '
               'stroke-width="2"/>')  # fmt: skip
    for i, p, v in points:
        title = f"{p.label} {p.date[:10]}: median {ns(p.median(benchmark) or 0)} ns, " + (
            f"boots {ns(min(v))}..{ns(max(v))} ({len(v)})"
        )
        out.append(f'<a href="{_esc(links.commit(p.commit, p.label))}"><circle cx="{x(i):.1f}" '
                   f'cy="{y(p.median(benchmark) or 0):.1f}" r="3" fill="{LINE}">'
                   f"<title>{_esc(title)}</title></circle></a>")  # fmt: skip
    for st in steps:
        xi = x(st.change.index - 0.5)
        point = series.points[st.change.index]
        out.append(
            f'<a class="change-point" data-commit="{_esc(point.commit or point.label)}" '
            f'href="{_esc(links.commit(point.commit, point.label))}">'
            f"<title>{_esc(f'{point.label}: {step_text(st)} ({interval_text(st)})')}</title>"
            f'<line x1="{xi:.1f}" x2="{xi:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
            f'stroke="{MARK}" stroke-width="2" stroke-dasharray="5 3"/>'
            f'<path d="M{xi - 7:.1f},{TOP} L{xi + 7:.1f},{TOP} L{xi:.1f},{TOP + 10} Z" '
            f'fill="{MARK}"/>'
            f'<text x="{xi + 9:.1f}" y="{TOP + 10}" fill="{MARK}">{_esc(step_text(st))}</text></a>'
        )
    out.append("</svg>")
    return "\n".join(out)


def _steps_table(series: Sequence[Series], steps: Sequence[Step], links: _Links) -> str:
    if not steps:
        return "<p>No change points: no benchmark stepped in these series.</p>"
    rows = []
    for st in steps:
        p = series[st.series].points[st.change.index]
        c = st.change
        direction = "slower" if c.ratio > 1 else "faster"
        rows.append(
            f"<tr><td>{_esc(st.profile)}</td><td>{_esc(st.benchmark)}</td>"
            f'<td><a href="{_esc(links.commit(p.commit, p.label))}">{_esc(p.label)}</a></td>'
            f"<td>{_esc(p.date[:10])}</td><td>{_esc(ns(c.before))}</td>"
            f"<td>{_esc(ns(c.after))}</td><td class='{direction}'>{_esc(step_text(st))}</td>"
            f"<td>{_esc(interval_text(st))}</td><td><a href='#series-{st.series + 1}'>"
            f"{st.series + 1}</a></td></tr>"
        )
    return (
        "<table class='steps'><tr><th>profile</th><th>benchmark</th><th>commit</th><th>date</th>"
        f"<th>before ns</th><th>after ns</th><th>step</th><th>{CONFIDENCE:.0%} interval</th>"
        "<th>series</th></tr>" + "".join(rows) + "</table>"
    )


def _commits_table(series: Sequence[Series], links: _Links) -> str:
    seen: dict[str, Point] = {}
    for s in series:
        for p in s.points:
            seen.setdefault(p.commit or p.label, p)
    rows = []
    for key, p in seen.items():
        anchor = f"commit-{key}" if p.commit else f"run-{p.label}"
        folded = f" (and {len(p.stands_for)} more that week)" if p.stands_for else ""
        rows.append(
            f"<tr id='{_esc(anchor)}'><td><a href='{_esc(links.commit(p.commit, p.label))}'>"
            f"{_esc(p.label)}</a></td><td>{_esc(p.date)}</td>"
            f"<td>{_esc(p.subject)}{_esc(folded)}</td></tr>"
        )
    return (
        "<table><tr><th>commit</th><th>date</th><th>subject</th></tr>"
        + "".join(rows)
        + ("</table>")
    )


def report(
    series: Sequence[Series], steps: Sequence[Step], *, cost: Cost | None, cost_note: str = "",
    commit_url: str | None = None, generated: str = "",
) -> str:  # fmt: skip
    """The whole report as one HTML document."""
    links = _Links(template=commit_url)
    body = [f"<h1>Performance history of main</h1><p class='setup'>{_esc(generated)}</p>",
            "<ul>" + "".join(f"<li>{_esc(line)}</li>" for line in series_lines(series)) + "</ul>",
            "<h2>Change points</h2>", _steps_table(series, steps, links),
            "<h2>Cost of each profile now</h2>"]  # fmt: skip
    body.append(cost_html(cost) if cost is not None else f"<p class='note'>{_esc(cost_note)}</p>")
    for k, s in enumerate(series):
        why = f" — new series: {'; '.join(s.changed)}" if s.changed else ""
        body.append(f"<section id='series-{k + 1}'><h2>[{k + 1}] {_esc(s.profile)}</h2>"
                    f"<p class='setup'>{_esc(s.key.short())}{_esc(why)}; {len(s.points)} "
                    "commit(s); blue: median per commit, pale bars: lowest to highest boot, "
                    "red: change points (links to their commits)</p>")  # fmt: skip
        for name in s.benchmarks:
            own = [st for st in steps if st.series == k and st.benchmark == name]
            body.append(f"<figure><figcaption>{_esc(name)} (ns per iteration)</figcaption>"
                        f"{chart(s, name, own, links)}</figure>")  # fmt: skip
        body.append("</section>")
    body += ["<h2>Commits</h2>", _commits_table(series, links)]
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        # Nothing to fetch: a browser refuses any request the page would make.
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'\">"
        "<title>Performance history of main</title>"
        f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
