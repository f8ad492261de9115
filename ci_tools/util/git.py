"""The one way ci_tools asks git something."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ci_tools.errors import CiToolsError
from ci_tools.util import proc


def git(repo: Path | None, *args: str, env: Mapping[str, str] | None = None) -> str:
    """``git ARGS`` in ``repo`` (None: the working directory), with ``env`` added to the
    environment; its output, stripped."""
    return proc.run(["git", *args], cwd=repo, env=env, quiet=True).stdout.strip()


def head(repo: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the checkout, or (None, None) outside one (or without git)."""
    try:
        commit = git(repo, "rev-parse", "HEAD")
        dirty = bool(git(repo, "status", "--porcelain"))
    except CiToolsError:
        return None, None
    return commit, dirty
