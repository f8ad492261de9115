"""Installing Debian packages: as root with apt-get, else the command to run.

The one place that runs ``apt-get update``: only as root, and only when the
package lists are missing (a fresh container), so a set-up step costs nothing
on a machine that already has what it needs.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from ci_tools import output
from ci_tools.errors import SetupError
from ci_tools.util import packages, proc

_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def _lists_present() -> bool:
    lists = Path("/var/lib/apt/lists")
    return lists.is_dir() and any(lists.glob("*_Packages*"))


def refresh_lists() -> None:
    """``apt-get update`` when running as root and apt has no package lists yet."""
    if os.geteuid() == 0 and not _lists_present():
        proc.run(["apt-get", "update"], env=_ENV)


def install(names: Sequence[str]) -> None:
    """Install Debian packages as root; as another user, a SetupError with the command."""
    if not names:
        return
    command = packages.install_command(names)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SetupError(
            f"missing system packages: {', '.join(names)}",
            hint=f"sudo {' '.join(command)}   (then run this again)",
        )
    output.phase(f"installing {', '.join(names)} with apt-get")
    refresh_lists()
    proc.run(command, env=_ENV)
