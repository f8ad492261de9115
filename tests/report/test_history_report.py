"""Main's history as text, markdown, a Mermaid chart and HTML (without a browser)."""

from __future__ import annotations

import dataclasses

import pytest

from ci_tools.history import changes, series
from ci_tools.report import history, html

import history_fake as hf


@pytest.fixture(scope="module")
def laid_out() -> list[series.Series]:
    return series.build([series.Run.of(r) for r in hf.history(profiles=("fortress",))])


def test_the_markdown_lists_each_step_with_its_interval(laid_out: list[series.Series]) -> None:
    text = history.history_markdown(laid_out, changes.steps(laid_out))
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()
            if line.startswith("| `")]  # fmt: skip
    trap = next(r for r in rows if r[1] == "`trap`")
    assert trap == ["`fortress`", "`trap`", f"`{hf.sha(6)[:10]}`", "2026-09-02", "44.0", "46.2",
                    "+5.0% slower", "+5.0%..+5.0%", "6/14"]  # fmt: skip
    assert len(rows) == 3
    assert text.count("```mermaid") == 3  # each step drawn
    assert "new series: QEMU version: 7.2.22 -&gt; 8.2.0" in text


def test_the_mermaid_chart_is_a_line_of_medians(laid_out: list[series.Series]) -> None:
    chart = history.mermaid_chart(laid_out[0], "trap", last=10)
    lines = chart.splitlines()
    assert lines[:2] == ["```mermaid", "xychart-beta"]
    assert lines[-1] == "```"
    labels = [hf.sha(i)[:7] for i in range(10, 20)]
    assert lines[3] == "    x-axis [" + ", ".join(f'"{s}"' for s in labels) + "]"
    assert lines[5] == "    line [" + ", ".join(["46.213"] * 10) + "]"
    assert history.mermaid_chart(laid_out[0], "no_such_benchmark") == ""


def test_names_from_result_files_cannot_break_out_of_the_mermaid_block(
    laid_out: list[series.Series],
) -> None:
    hostile = dataclasses.replace(laid_out[0], profile='x"]\n```\n@team <img>')
    chart = history.mermaid_chart(hostile, "trap")
    assert chart.count("```") == 2 and "@" not in chart and "<" not in chart
    assert '"x________team _img_ trap' in chart


def test_html_escapes_what_came_from_git_and_links_to_the_commit_table(
    laid_out: list[series.Series],
) -> None:
    point = dataclasses.replace(laid_out[0].points[0], subject="<script>alert(1)</script>")
    first = dataclasses.replace(laid_out[0], points=(point, *laid_out[0].points[1:]))
    page = html.report([first, *laid_out[1:]], changes.steps(laid_out), cost=None,
                       cost_note="no profile runs")  # fmt: skip
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert f'href="#commit-{hf.sha(6)}"' in page and f"id='commit-{hf.sha(6)}'" in page


def test_commit_links_follow_github_in_actions() -> None:
    env = {"GITHUB_SERVER_URL": "https://ghe.example", "GITHUB_REPOSITORY": "o/k"}
    assert html.commit_url_template(None, env) == "https://ghe.example/o/k/commit/{commit}"
    assert html.commit_url_template("https://x/{commit}", env) == "https://x/{commit}"
    assert html.commit_url_template(None, {}) is None
