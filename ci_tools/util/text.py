"""Terminal output made plain: the one pattern for ANSI escape sequences."""

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
