"""Tables of a comparison, for people: terminal, GitHub markdown, Kevlar's plain layout, cost.

* ``comparison_text``: the terminal table (tabulate ``simple``), regressions first.
* ``comparison_markdown``: tabulate's ``github`` format for the job summary and
  the PR comment; regressions first, unchanged rows folded in ``<details>``,
  trimmed to a character budget (the PR comment's, ``github.comment``).
* ``comparison_plain``: the side-by-side table with a ratio column per file that
  Kevlar's ``run-benchmarks.py compare`` prints.
* ``cost_text`` / ``cost_markdown`` / ``cost_html``: ``bench-all``'s table: each profile
  against the fastest profile and against the Linux guest under the same QEMU.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from tabulate import tabulate

from ci_tools.compare.cost import Cost
from ci_tools.compare.model import VERDICT_CODES, Comparison, Row, Side, Verdict
from ci_tools.util import markdown as md


def _headers(comparison: Comparison) -> list[str]:
    unit = "virtual ns/iter" if comparison.mode == "deterministic" else "ns/iter"
    return ["benchmark", f"base {unit}", f"head {unit}", "head/base",
            f"interval ({_confidence(comparison)})", "threshold", "verdict", "note"]  # fmt: skip


def _confidence(comparison: Comparison) -> str:
    """The rows' two-sided confidence with the digits it takes: 99.75%, never a rounded 100%."""
    c = comparison.confidence * 100
    digits = min(6, max(0, math.ceil(-math.log10(100 - c)) + 1)) if c < 100 else 6
    return f"{c:.{digits}f}%"


def ns(value: float) -> str:
    """Nanoseconds as the tables show them: whole above 100, one decimal below."""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def _side(side: Side | None) -> str:
    """Median, the range of the per-boot values (not a deviation), and the boots."""
    if side is None:
        return "—"
    if side.low == side.high:
        return f"{ns(side.median)} (all {side.boots} boots)"
    return f"{ns(side.median)} (range {ns(side.low)}..{ns(side.high)}, {side.boots} boots)"


def _ratio(row: Row) -> str:
    return f"{row.ratio:.3f}" if row.ratio is not None else "—"


def _ci(row: Row) -> str:
    return f"{row.ci[0]:.3f}..{row.ci[1]:.3f}" if row.ci is not None else "—"


def _threshold(row: Row) -> str:
    if row.ratio is None:
        return "—"
    return f"{row.threshold:.1%} ({row.threshold_source})"


def _verdict(row: Row, *, markdown: bool = False) -> str:
    text = row.verdict.value
    if row.verdict is Verdict.REGRESSION:
        return "**REGRESSION**" if markdown else "REGRESSION"
    if row.verdict is Verdict.INCONCLUSIVE and markdown:
        return "*inconclusive*"
    return text


def _cells(row: Row, *, several: bool, markdown: bool) -> list[str]:
    name = f"{row.benchmark} ({row.head_label})" if several else row.benchmark
    if markdown:
        name = md.code(name)
    return [name, _side(row.base), _side(row.head), _ratio(row), _ci(row),
            _threshold(row), _verdict(row, markdown=markdown),
            _escape(row.reason, markdown)]  # fmt: skip


def _escape(text: str, markdown: bool) -> str:
    return md.text(text) if markdown else text


def _several(comparison: Comparison) -> bool:
    return len(comparison.pairs) > 1


def _title(comparison: Comparison, *, markdown: bool = False) -> str:
    text = _plain_title(comparison)
    return md.text(text) if markdown else text


def _plain_title(comparison: Comparison) -> str:
    if len(comparison.pairs) == 1:
        base, head = comparison.pairs[0]
        what = f"{base} → {head}"
    elif len({b for b, _ in comparison.pairs}) == 1:
        what = f"{comparison.pairs[0][0]} → {', '.join(h for _, h in comparison.pairs)}"
    else:
        what = ", ".join(f"{b} → {h}" for b, h in comparison.pairs)
    return what


def _headline(comparison: Comparison) -> str:
    return (
        f"{comparison.summary} · {comparison.mode} mode · exact Hodges-Lehmann intervals at "
        f"{_confidence(comparison)} each (family-wise alpha {comparison.alpha:g} over "
        f"{comparison.family} row(s))"
    )


def _warnings(comparison: Comparison) -> list[str]:
    out = []
    if comparison.forced:
        out.append("COMPARED DESPITE DIFFERENCES (--force): " + "; ".join(comparison.forced))
    for item in comparison.incomplete:
        out.append(f"INCOMPLETE RESULT: {item}")
    return out


def comparison_text(comparison: Comparison) -> str:
    """The terminal table: plain text, regressions first."""
    several = _several(comparison)
    rows = [_cells(r, several=several, markdown=False) for r in comparison.sorted_rows()]
    table = tabulate(rows, headers=_headers(comparison), tablefmt="simple", disable_numparse=True)
    lines = [f"compare {_title(comparison)}", _headline(comparison), *_warnings(comparison)]
    lines += ["", table, "", *comparison.notes, f"exit code {int(comparison.exit_code)}"]
    return "\n".join(lines)


def _md_table(comparison: Comparison, rows: Sequence[Row]) -> str:
    cells = [_cells(r, several=_several(comparison), markdown=True) for r in rows]
    return tabulate(cells, headers=_headers(comparison), tablefmt="github", disable_numparse=True)


def _markdown(comparison: Comparison, shown: Sequence[Row], left_out: dict[Verdict, int]) -> str:
    # A slowdown shown but within its threshold is "no change", yet stays in sight.
    folded = [r for r in shown if r.verdict is Verdict.NO_CHANGE and not r.shown_slower]
    top = [r for r in shown if r not in folded]
    out = [f"### Benchmarks: {_title(comparison, markdown=True)}", ""]
    out += [f"**{_headline(comparison)}**", ""]
    for w in _warnings(comparison):
        out += [f"> [!WARNING]\n> {md.text(w, limit=2000)}", ""]
    if top:
        out += [_md_table(comparison, top), ""]
    if folded:
        out += [
            "<details>",
            f"<summary>{len(folded)} unchanged</summary>",
            "",
            _md_table(comparison, folded),
            "",
            "</details>",
            "",
        ]
    if left_out:
        kinds = ", ".join(f"{n} {v.value}" for v, n in left_out.items())
        out += [
            f"*{sum(left_out.values())} row(s) left out to fit GitHub's size limit ({kinds}); "
            "the job summary and the result files have them all.*",
            "",
        ]
    # Notes name extras from the result files: inert text, like every other name.
    out += [f"<sub>{md.text(n, limit=2000)}</sub>" for n in comparison.notes]
    return "\n".join(out) + "\n"


def comparison_markdown(comparison: Comparison, *, max_chars: int | None = None) -> str:
    """GitHub markdown; with ``max_chars``, least important rows go first until it fits.

    Unchanged rows are dropped before new, improved, inconclusive and finally
    regressed ones; the text says how many of each were left out.
    """
    rows = comparison.sorted_rows()
    text = _markdown(comparison, rows, {})
    if max_chars is None or len(text) <= max_chars:
        return text
    # Drop from the end of the least important rows first (sorted_rows puts them last).
    low, high = 0, len(rows)  # number of rows kept: find the largest that fits
    while low < high:
        mid = (low + high + 1) // 2
        if len(_render_kept(comparison, rows, mid)) <= max_chars:
            low = mid
        else:
            high = mid - 1
    return _render_kept(comparison, rows, low)


def _render_kept(comparison: Comparison, rows: Sequence[Row], keep: int) -> str:
    left_out: dict[Verdict, int] = {}
    for r in rows[keep:]:
        left_out[r.verdict] = left_out.get(r.verdict, 0) + 1
    return _markdown(comparison, rows[:keep], left_out)


def comparison_plain(comparison: Comparison) -> str:
    """Kevlar's ``run-benchmarks.py compare`` layout: a column per file, a ratio after each head.

    The ratio is the row's head/base (Hodges-Lehmann, the figure its verdict is
    about) and the verdict follows it, so that no ratio reads as a regression
    the exit code, printed last, does not report.
    """
    labels = comparison.labels
    medians: dict[str, dict[str, float]] = {}
    rows_of: dict[tuple[str, str], Row] = {}
    order: list[str] = []
    for row in comparison.rows:
        if row.benchmark not in medians:
            medians[row.benchmark] = {}
            order.append(row.benchmark)
        rows_of[(row.benchmark, row.head_label)] = row
        for lab, side in ((row.base_label, row.base), (row.head_label, row.head)):
            if side is not None:
                medians[row.benchmark][lab] = side.median
    base_of = {h: b for b, h in comparison.pairs}
    unit = "virtual ns/op" if comparison.mode == "deterministic" else "ns/op"
    headers = ["Benchmark"]
    for lab in labels:
        headers.append(lab)
        if lab in base_of:
            headers += ["ratio", "verdict"]
    rows = []
    for name in order:
        line = [name]
        values = medians[name]
        for lab in labels:
            line.append(f"{ns(values[lab])} {unit}" if lab in values else "—")
            if lab in base_of:
                mine = rows_of.get((name, lab))
                ratio = mine.ratio if mine is not None else None
                line.append(f"{ratio:.2f}x" if ratio is not None else "—")
                line.append(_verdict(mine) if mine is not None else "—")
        rows.append(line)
    colalign = ["left"] + ["right"] * (len(headers) - 1)
    table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                     colalign=colalign)  # fmt: skip
    code = comparison.exit_code
    return f"{table}\n\nexit code {int(code)}: {VERDICT_CODES[code]} ({comparison.summary})"


# --- cost -----------------------------------------------------------------------


def _cost_rows(cost: Cost, markdown: bool) -> tuple[list[str], list[list[str]]]:
    """One column per profile: median ns/iter, then (x fastest profile[, x reference])."""
    ref = None
    if cost.reference is not None:
        ref = md.text(cost.reference) if markdown else cost.reference
    headers = ["benchmark"] + ([f"{ref} ns/iter"] if ref else [])
    against = f"vs fastest, vs {ref}" if ref else "vs fastest"
    headers += [f"{md.text(p) if markdown else p} ({against})" for p in cost.profiles]
    rows = []
    for row in cost.rows:
        name = md.code(row.benchmark) if markdown else row.benchmark
        line = [name]
        if ref:
            line.append(ns(row.reference) if row.reference is not None else "—")
        fastest = row.fastest
        for m in row.medians:
            if m is None:
                line.append("—")
                continue
            vs_fastest = f"{m / fastest:.2f}x" if fastest else "—"
            if ref:
                vs_ref = f"{m / row.reference:.2f}x" if row.reference else "—"
                line.append(f"{ns(m)} ({vs_fastest}, {vs_ref})")
            else:
                line.append(f"{ns(m)} ({vs_fastest})")
        rows.append(line)
    return headers, rows


def _cost_notes(cost: Cost) -> list[str]:
    against = (
        f", 'vs {cost.reference}' against the reference guest under the same QEMU"
        if cost.reference
        else ""
    )
    unit = " (virtual ns: about one guest instruction each)" if cost.mode == "deterministic" else ""
    out = [
        f"Medians of per-boot medians, {cost.mode} mode{unit}; 'vs fastest' is against the "
        f"fastest profile of that benchmark{against}."
    ]
    if cost.forced:
        out.append("COMPARED DESPITE DIFFERENCES (--force): " + "; ".join(cost.forced))
    return out + list(cost.notes)


def cost_text(cost: Cost) -> str:
    headers, rows = _cost_rows(cost, markdown=False)
    table = tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True,
                     colalign=["left"] + ["right"] * (len(headers) - 1))  # fmt: skip
    return "\n".join([f"cost of each profile ({', '.join(cost.profiles)})", "", table, "",
                      *_cost_notes(cost)])  # fmt: skip


def cost_markdown(cost: Cost) -> str:
    headers, rows = _cost_rows(cost, markdown=True)
    table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)
    notes = [f"<sub>{md.text(n, limit=2000)}</sub>" for n in _cost_notes(cost)]
    return "\n".join(["### Cost of each profile", "", table, "", *notes]) + "\n"


def cost_html(cost: Cost) -> str:
    """The cost table as an HTML table (every cell escaped) with its notes, for the
    history report."""
    headers, rows = _cost_rows(cost, markdown=False)
    table = tabulate(rows, headers=headers, tablefmt="html", disable_numparse=True)
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in _cost_notes(cost))
    return f"{table}\n{notes}"
