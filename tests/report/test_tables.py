"""The tables of ``compare`` and ``cost``, rendered from fixture result files."""

from __future__ import annotations

import re

import numpy as np
import pytest

from ci_tools.compare import decide, model
from ci_tools.compare.cost import cost_table
from ci_tools.compare.model import Verdict
from ci_tools.errors import BadInputError
from ci_tools.github.comment import COMMENT_LIMIT
from ci_tools.report import tables
from ci_tools.results import store
from ci_tools.results.model import Result
from ci_tools.util import markdown

from conftest import FIXTURES, make, suite

RESULTS = FIXTURES / "results"


def fixture(name: str) -> Result:
    return store.load(RESULTS / name)


@pytest.fixture(scope="module")
def regression() -> model.Comparison:
    return decide.compare_results(
        [fixture("linux-det-8boots-a.json"), fixture("linux-det-8boots-b-getpid-x1.10.json")]
    )


def test_terminal_table_lists_regressions_first(regression: model.Comparison) -> None:
    text = tables.comparison_text(regression)
    body = text.split("\n\n")[1].splitlines()
    assert body[0].split()[0] == "benchmark"
    assert body[2].split()[0] == "getpid" and "REGRESSION" in body[2]
    assert "linux-det-8boots-a.json → linux-det-8boots-b-getpid-x1.10.json" in text
    assert "1 regression(s)" in text and "exit code 1" in text
    for name in ("read_null", "write_null", "pipe", "fork_exit", "open_close", "stat"):
        assert re.search(rf"^{name}\s.*no change", text, re.M), name


def test_markdown_regressions_first_unchanged_folded(regression: model.Comparison) -> None:
    md = tables.comparison_markdown(regression)
    assert md.startswith("### Benchmarks: linux-det-8boots-a.json → ")
    top, folded = md.split("<details>", 1)
    assert "| `getpid`" in top and "**REGRESSION**" in top
    assert "`getpid`" not in folded
    assert "<summary>" in folded and "unchanged</summary>" in folded
    assert folded.count("| `") == regression.count(Verdict.NO_CHANGE)
    # tabulate's github format: a header separator line of pipes and dashes
    assert re.search(r"^\|[-|: ]+\|$", md, re.M)
    assert "<!--" not in md  # the sticky-comment marker is the GitHub module's business


def test_markdown_fits_a_budget_dropping_unchanged_rows_first() -> None:
    rng = np.random.default_rng(1)
    # 12 boots a side: enough for the U test to reach alpha / 600.
    many = {f"bench_{i:03d}": list(1000.0 + i + rng.random(12)) for i in range(600)}
    slow = dict(many, bench_007=list(1200.0 + rng.random(12)))
    c = decide.compare_results(
        [make(many, name="base.json"), make(slow, name="head.json")],
        min_effects={"default": 0.03},
    )
    full = tables.comparison_markdown(c)
    assert len(full) > COMMENT_LIMIT
    cut = tables.comparison_markdown(c, max_chars=COMMENT_LIMIT)
    assert len(cut) <= COMMENT_LIMIT
    assert "`bench_007`" in cut and "**REGRESSION**" in cut
    left = re.search(
        r"\*(\d+) row\(s\) left out to fit GitHub's size limit \((\d+) no change\)", cut
    )
    assert left is not None and left.group(1) == left.group(2)
    shown = cut.count("| `bench_")
    assert shown + int(left.group(1)) == 600
    tiny = tables.comparison_markdown(c, max_chars=2000)
    assert len(tiny) <= 2000 and "`bench_007`" in tiny


def test_markdown_says_what_could_not_be_compared() -> None:
    rng = np.random.default_rng(2)
    values = suite(rng, 8)
    head = {k: v for k, v in values.items() if k != "pipe"}
    c = decide.compare_results([make(values, name="b.json"), make(head, name="h.json")])
    md = tables.comparison_markdown(c)
    assert "| `pipe`" in md.split("<details>")[0]
    assert "not measured in h.json" in md


def test_plain_table_is_kevlars_layout_with_a_ratio_per_file() -> None:
    a, b = fixture("linux-det-8boots-a.json"), fixture("linux-det-8boots-b.json")
    slow = fixture("linux-det-8boots-b-getpid-x1.10.json")
    c = decide.compare_results([a, b, slow])
    text = tables.comparison_plain(c)
    header = text.splitlines()[0].split()
    assert header == ["Benchmark", "linux-det-8boots-a.json", "linux-det-8boots-b.json",
                      "ratio", "verdict", "linux-det-8boots-b-getpid-x1.10.json", "ratio",
                      "verdict"]  # fmt: skip
    getpid = next(line for line in text.splitlines() if line.startswith("getpid"))
    assert getpid.split() == ["getpid", "345", "virtual", "ns/op", "345", "virtual", "ns/op",
                              "1.00x", "no", "change", "380", "virtual", "ns/op", "1.10x",
                              "REGRESSION"]  # fmt: skip
    assert text.splitlines()[-1].startswith("exit code 1: regression (1 regression(s), ")


def test_plain_table_never_contradicts_the_exit_code() -> None:
    """getpid 1.10x next to exit 0: the ratio now carries the verdict that explains it."""
    a = fixture("linux-det-8boots-a.json")
    slow = fixture("linux-det-8boots-b-getpid-x1.10.json")
    c = decide.compare_results([a, slow], min_effects={"getpid": 0.2})
    text = tables.comparison_plain(c)
    getpid = next(line for line in text.splitlines() if line.startswith("getpid"))
    assert getpid.split()[-3:] == ["1.10x", "no", "change"]
    assert text.splitlines()[-1].startswith("exit code 0: no regression")


def test_plain_table_marks_missing_values() -> None:
    rng = np.random.default_rng(3)
    values = suite(rng, 8)
    c = decide.compare_results(
        [make(values, name="b.json"), make({"getpid": values["getpid"]}, name="h.json")]
    )
    line = next(x for x in tables.comparison_plain(c).splitlines() if x.startswith("stat"))
    assert line.split()[-3:] == ["—", "—", "inconclusive"]


def test_deterministic_tables_name_their_unit_and_what_it_cannot_see() -> None:
    a = fixture("linux-det-8boots-a.json")
    c = decide.compare_results([a, fixture("linux-det-8boots-b.json")])
    for text in (tables.comparison_text(c), tables.comparison_markdown(c)):
        assert "base virtual ns/iter" in text
        assert "virtual ns (≈ guest instructions" in text and "not cache or TLB" in text
        assert "±" not in text  # a range is shown, never something that reads like a deviation
    assert "(range 4,176..4,617, 8 boots)" in tables.comparison_text(c)
    wall = fixture("linux-wallclock-8boots.json")
    text = tables.comparison_text(decide.compare_results([wall, wall]))
    assert "virtual" not in text and "base ns/iter" in text


# --- cost ------------------------------------------------------------------------------------


def test_cost_table_against_fastest_profile_and_linux() -> None:
    linux = fixture("linux-det-8boots-a.json")
    profiles = [fixture(f"profile-{p}.json") for p in ("fortress", "balanced", "performance")]
    cost = cost_table(linux, profiles)
    assert cost.profiles == ("fortress", "balanced", "performance")
    text = tables.cost_text(cost)
    header = text.splitlines()[2]
    assert header.split()[:3] == ["benchmark", "linux", "ns/iter"]
    for p in cost.profiles:
        assert f"{p} (vs fastest, vs linux)" in header
    mmap = next(r for r in cost.rows if r.benchmark == "mmap_fault")
    fortress, _, performance = mmap.medians
    assert fortress is not None and performance is not None and mmap.reference is not None
    assert fortress > 1.3 * performance  # init_on_free and page poisoning cost page faults
    assert mmap.fastest == performance
    line = next(x for x in text.splitlines() if x.startswith("mmap_fault"))
    expected = f"({fortress / performance:.2f}x, {fortress / mmap.reference:.2f}x)"
    assert expected in line and "(1.00x, " in line
    md = tables.cost_markdown(cost)
    assert md.startswith("### Cost of each profile") and "| `mmap_fault`" in md


def test_cost_refuses_incompatible_inputs() -> None:
    linux = fixture("linux-det-8boots-a.json")
    wall = fixture("linux-wallclock-8boots.json")
    with pytest.raises(BadInputError) as err:
        cost_table(linux, [wall])
    assert "mode differs" in err.value.message
    assert cost_table(linux, [wall], force=True).forced


def test_markdown_makes_text_from_result_files_inert() -> None:
    """A pull request controls its result files: names and reasons must stay plain text."""
    rng = np.random.default_rng(4)
    values = suite(rng, 8)
    evil = "`x` | <img src=x onerror=alert(1)> [link](http://e) @maintainer\n# head"
    head = {k: v for k, v in values.items() if k != "stat"}
    skips = [("stat", b, evil) for b in range(8)]
    c = decide.compare_results(
        [make(values, name="b.json"),
         make(head, name="h<i>.json", skipped=skips)]
    )  # fmt: skip
    md = tables.comparison_markdown(c)
    assert "<img" not in md and "<i>" not in md
    assert "@maintainer" not in md and "@\u2060maintainer" in md  # a word joiner
    assert "[link](" not in md and "\\[link\\](http:\u2060//e)" in md
    assert "\n# head" not in md
    assert markdown.code("bad`name|x") == "``bad`name\\|x``"  # a fence longer than any run inside
    row = next(line for line in md.splitlines() if line.startswith("| `stat`"))
    assert row.count(" | ") == 7  # no cell was split by the reason's pipe


def test_names_that_could_carry_markdown_are_refused_by_the_schema() -> None:
    """Benchmark and extra names end up in the PR comment: the schema keeps them plain."""
    rng = np.random.default_rng(4)
    for name in ("bad`name|x", "@octocat", "x](http://e)"):
        with pytest.raises(BadInputError, match="does not match"):
            make({**suite(rng, 8), name: [1.0] * 8}, name="h.json")


def test_cost_without_a_shared_reference_compares_the_profiles_only() -> None:
    """A reference that measured other benchmarks (a kernel's built-in bench against
    Linux running bench.c) is left out and said so; without one, no reference column."""
    profiles = [fixture(f"profile-{p}.json") for p in ("fortress", "performance")]
    alone = cost_table(None, profiles)
    assert alone.reference is None
    header = tables.cost_text(alone).splitlines()[2]
    assert "ns/iter" not in header and "fortress (vs fastest)" in header
    kernel_bench = make({"trap": [40.0, 40.0]})
    other = cost_table(kernel_bench, profiles)
    assert other.reference is None
    assert any("measured none of the profiles' benchmarks" in note for note in other.notes)
    assert [r.benchmark for r in other.rows] == [r.benchmark for r in alone.rows]
