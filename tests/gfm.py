"""GitHub's markdown renderer (cmark-gfm, through cmarkgfm) for tests that must show
that text from a pull request makes no link, image, mention or reference.

cmark-gfm makes links and images (``[x](u)``, bare URLs, ``www.``, e-mail
addresses); GitHub then turns ``@user``, ``#1``, ``owner/repo#1``, ``GH-1`` and
commit SHAs in text (never in code) into links.  ``inert`` checks both.
"""

from __future__ import annotations

import html
import re

import cmarkgfm
from cmarkgfm.cmark import Options

# What GitHub's filters would link in a text node (not inside <code>).
GITHUB_REFERENCES = re.compile(
    r"(?<![\w/])@[A-Za-z0-9]"  # @mention
    r"|(?<![\w&])#\d"  # #1, owner/repo#1
    r"|\bGH-\d"  # GH-1
    r"|\b[0-9a-f]{7,40}\b",  # a commit SHA
    re.IGNORECASE,
)


def render(markdown: str) -> str:
    """HTML as github.com renders it, less its reference filters (raw HTML kept, to see it)."""
    return str(
        cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)
    )


def links(rendered: str) -> list[str]:
    """Every href of an <a> and src of an <img>."""
    return re.findall(r"<(?:a\b[^>]*\bhref|img\b[^>]*\bsrc)=\"([^\"]*)\"", rendered)


def text_outside_code(rendered: str) -> str:
    without_code = re.sub(r"<code>.*?</code>", " ", rendered, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", without_code))


def references(rendered: str) -> list[str]:
    """What GitHub would make a mention or cross-reference of."""
    return [m.group(0) for m in GITHUB_REFERENCES.finditer(text_outside_code(rendered))]
