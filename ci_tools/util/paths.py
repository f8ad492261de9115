"""Where ci_tools finds its own data files and keeps its cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ci_tools.errors import HarnessError

_PACKAGE = Path(__file__).resolve().parent.parent  # the ci_tools package


def data_file(relative: str) -> Path:
    """A file shipped with ci_tools (``schemas/…``, ``benchmarks/bench.c``).

    In a source checkout they live at the top of the repository; in an
    installed wheel they are copied inside the package.
    """
    for root in (_PACKAGE.parent, _PACKAGE / "data"):
        candidate = root / relative
        if candidate.exists():
            return candidate
    raise HarnessError(f"ci_tools data file {relative} is missing from this installation")


def cache_dir(*parts: str) -> Path:
    """``$CI_TOOLS_CACHE``, else ``$XDG_CACHE_HOME/ci_tools``, else ``~/.cache/ci_tools``."""
    base = os.environ.get("CI_TOOLS_CACHE")
    if base:
        root = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "ci_tools"
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
