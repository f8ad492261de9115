"""Text made safe for GitHub markdown: the one home of markdown escaping.

Result files, manifests and compiler messages end up in job summaries and
in the pull-request comment.  A pull request controls its result files, so
names, reasons and file names from them must not become links, images,
HTML, table cells or @mentions:

- ``text``: prose, made inert;
- ``code``: a name as inline code that nothing can end early;
- ``cell``: trusted markdown (a compiler message) kept in one table cell.
"""

from __future__ import annotations

_SPECIAL = "\\`*_[]|#!~"


def text(value: str, *, limit: int = 300) -> str:
    """Text from result files, made inert in GitHub markdown (one line, at most ``limit``)."""
    flat = " ".join(str(value).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    out = []
    for ch in flat:
        if ch in _SPECIAL:
            out.append("\\" + ch)
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "@":
            out.append("@&#8203;")
        else:
            out.append(ch)
    return "".join(out)


def code(value: str, *, limit: int = 80, table: bool = True) -> str:
    """A name as inline code; backticks and line breaks cannot end it early.

    In a table a pipe cannot either: in a GitHub table a pipe splits the
    cell even inside code, ``\\|`` does not (outside tables it would show).
    """
    flat = " ".join(str(value).replace("`", "'").split())[:limit]
    return "`" + (flat.replace("|", "\\|") if table else flat) + "`"


def cell(value: str) -> str:
    """Markdown that must stay in one table cell: no pipe or line break splits it."""
    return value.replace("|", "\\|").replace("\n", " ")
