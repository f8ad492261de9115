"""The markdown escaper, judged by GitHub's own renderer (cmark-gfm): text from a pull
request makes no link, image, HTML, mention or cross-reference, in prose, in code and
in a table cell."""

from __future__ import annotations

import pytest
from gfm import links, references, render

from ci_tools.util import markdown as md

HOSTILE = [
    "[x](https://evil.example)",
    "see https://evil.example/a and HTTP://EVIL.EXAMPLE",
    "www.evil.example",
    "![img](https://evil.example/x.png)",
    "<img src=https://evil.example/x.png>",
    "<a href='https://evil.example'>x</a>",
    "<https://evil.example>",
    "@levkropp/maintainers and @user",
    "owner/repo#1 and #12 and GH-3",
    "fixes deadbeefcafe1234",
    "mail a@evil.example, mailto:b@evil.example, xmpp:c@evil.example",
    "`code` then [y](http://z) ``` `",
    "x\\|[a](http://b)|",
    "# heading\n- item\n> quote",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_prose_code_and_cells_make_no_link(value: str) -> None:
    prose = render(f"Reason: {md.text(value)}")
    code = render(f"- reason: {md.code(value, limit=500, table=False)}")
    table = render(f"| a | b |\n|---|---|\n| {md.code(value, limit=500)} | {md.text(value)} |\n")
    for rendered in (prose, code, table):
        assert links(rendered) == [], rendered
        assert references(rendered) == [], rendered
        assert "<img" not in rendered and "<a " not in rendered and "<h1" not in rendered
    # the table keeps its two cells
    assert table.count("<td>") == 2, table


def test_code_keeps_backticks_and_pipes_as_they_are() -> None:
    assert md.code("a `b` c", table=False) == "``a `b` c``"
    assert md.code("`x`", table=False) == "`` `x` ``"
    assert md.code("a|b") == "`a\\|b`"
    rendered = render(f"| n |\n|---|\n| {md.code('``a`|b')} |\n")
    assert "<code>``a`|b</code>" in rendered


def test_prose_reads_the_same() -> None:
    """The word joiners are invisible: what a reader sees is the text itself."""
    value = "p=0.01 after Holm; see https://x.example, @me, #3, abcdef1234567"
    shown = render(md.text(value)).replace(md.JOINER, "")
    assert "p=0.01 after Holm; see https://x.example, @me, #3, abcdef1234567" in shown
