"""Plain text: terminal output without escape sequences, and text cut to a length."""

from __future__ import annotations

import re

# CSI sequences (colours, cursor moves), OSC strings, charset designations,
# and the other two-byte escapes (SeaBIOS ends with ESC c, a terminal reset).
ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()*+][ -~]|\x1b[@-~]"
)


def strip_ansi(text: str) -> str:
    """``text`` without colours, cursor moves and other escape sequences."""
    return ANSI.sub("", text)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
