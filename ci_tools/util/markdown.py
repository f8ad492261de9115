"""Text made safe for GitHub markdown: the one home of markdown escaping.

Result files, manifests, branch names and compiler messages end up in job
summaries and in the pull-request comment.  A pull request controls its
result files and its branch name, so text from them must not become links,
images, HTML, headings, table cells, @mentions or cross-references
(``#1``, ``owner/repo#1``, ``GH-1``, a commit SHA):

- ``code``: a name, a reason, a branch: inline code, whose fence is longer
  than any run of backticks inside, so nothing can end it early.  GitHub
  makes no link, mention or reference inside code: this is the safe home
  for text that is wholly untrusted.
- ``text``: prose that mixes our words with names from a file (a
  comparison's reasons and notes): markdown characters backslash-escaped,
  ``<`` ``>`` ``&`` as entities, and a word joiner (U+2060, invisible)
  put where GitHub would otherwise make a link or reference: after ``@``
  and ``#``, inside ``://`` and ``www.``, after ``GH``, and every six
  characters of a run of seven or more hex digits (a SHA).  Code spans
  would do it too, but turn a table's prose into code.
- ``cell``: trusted markdown (a compiler message) kept in one table cell.
"""

from __future__ import annotations

import re

from ci_tools.util.text import shorten

_SPECIAL = "\\`*_[]|#!~"
JOINER = "\u2060"  # WORD JOINER: zero width, no break, ends every GitHub autolink
# Where GitHub's renderer or its reference filters would start a link, after escaping.
_LINKABLE = re.compile(r"(?i)(?<=:)(?=//)|(?<=\bwww)(?=\.)|(?<=\bgh)(?=-\d)|(?<=#)|(?<=@)")
_HEX_RUN = re.compile(r"[0-9a-fA-F]{7,}")


def _break_hex(match: re.Match[str]) -> str:
    run = match.group(0)
    return JOINER.join(run[i : i + 6] for i in range(0, len(run), 6))


def text(value: str, *, limit: int = 300) -> str:
    """Text from result files, made inert in GitHub markdown (one line, at most ``limit``)."""
    flat = shorten(" ".join(str(value).split()), limit)
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
        else:
            out.append(ch)
    return _HEX_RUN.sub(_break_hex, _LINKABLE.sub(JOINER, "".join(out)))


def code(value: str, *, limit: int = 80, table: bool = True) -> str:
    """Text as inline code that nothing in it can end early (one line, ``limit`` long).

    In a table a pipe cannot split it either: in a GitHub table a pipe splits
    the cell even inside code, ``\\|`` does not (outside tables it would
    show, so ``table=False`` leaves pipes alone).  A backslash before a pipe
    would escape the escape, so in a table that one is written as U+2216, SET MINUS.
    """
    flat = " ".join(str(value).split())[:limit]
    if table:
        flat = flat.replace("\\|", "\u2216|").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end when both ends have one, and a
    # backtick at either end would join the fence: pad both ends then.
    pad = " " if not flat or flat[0] == "`" or flat[-1] == "`" else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def cell(value: str) -> str:
    """Markdown that must stay in one table cell: no pipe or line break splits it."""
    return value.replace("|", "\\|").replace("\n", " ")
