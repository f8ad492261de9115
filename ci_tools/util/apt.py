"""Installing Debian packages with apt-get: as root, through sudo, or the commands to run.

Package lists are judged by what they offer, not by their presence: a
machine's lists can be months old (a cloud image, a container, a debootstrap
root holds only the lists it was made with), and from those apt installs old
versions, finds nothing, or asks the mirror for files it no longer has.  So
before installing, every package's candidate is looked up; when one is
missing or older than the caller needs, ``apt-get update`` runs first and
says why; and an install that fails is retried once after an update.  apt is
always asked in the C locale: its words ("Candidate:") are translated.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence

from ci_tools import output
from ci_tools.errors import CiToolsError, SetupError
from ci_tools.util import packages, proc

_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}


def candidate(package: str) -> str | None:
    """The version ``apt-get install`` would take from the current lists, or None."""
    if shutil.which("apt-cache") is None:
        return None
    policy = proc.run(["apt-cache", "policy", package], env=_ENV, quiet=True, check=False)
    match = re.search(r"^\s*Candidate:\s*(\S+)", policy.stdout, re.MULTILINE)
    if match is None or match.group(1) == "(none)":
        return None
    return match.group(1)


def version_older(version: str, than: str) -> bool:
    """Debian version order (``dpkg --compare-versions``): 1.85.0+dfsg3-1~deb12u3 < 1.96."""
    result = proc.run(["dpkg", "--compare-versions", version, "lt", than], quiet=True, check=False)
    return result.returncode == 0


def stale(names: Sequence[str], minimum: Mapping[str, str] | None = None) -> list[str]:
    """Why the current package lists cannot give these packages (empty when they can),
    one reason per kind: 'rustc-web, cargo-web: 1.85.0+dfsg3-1~deb12u3 is older than 1.96'."""
    minimum = minimum or {}
    why: dict[str, list[str]] = {}
    for name in names:
        found = candidate(name)
        if found is None:
            why.setdefault("no candidate", []).append(name)
        elif name in minimum and version_older(found, minimum[name]):
            why.setdefault(f"{found} is older than {minimum[name]}", []).append(name)
    return [f"{', '.join(names)}: {reason}" for reason, names in why.items()]


def _as_root() -> list[str] | None:
    """The prefix that runs apt-get as root here ([] as root, ["sudo"] where sudo can
    be used: no password needed, or a terminal to ask for it), or None."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") is None:
        return None
    passwordless = proc.run(["sudo", "-n", "true"], quiet=True, check=False).returncode == 0
    return ["sudo"] if passwordless or sys.stdin.isatty() else None


def _update(root: list[str], why: str) -> None:
    output.phase(f"refreshing apt's package lists ({why}): apt-get update")
    result = proc.run([*root, "apt-get", "update"], env=_ENV, check=False)
    if result.returncode != 0:
        # One broken third-party source fails the whole update; the lists that did
        # refresh may still hold what is needed, which the caller checks again.
        output.warn(f"apt-get update exited {result.returncode}; going on with what it fetched")


def refresh_lists(why: str) -> None:
    """``apt-get update`` where it can run (root, or sudo); silently nothing elsewhere."""
    root = _as_root()
    if root is not None and shutil.which("apt-get") is not None:
        _update(root, why)


def install(names: Sequence[str], *, minimum: Mapping[str, str] | None = None) -> None:
    """``apt-get install`` these packages (at least the ``minimum`` versions), refreshing
    stale package lists first.  Where it cannot run: a SetupError with the commands."""
    if not names:
        return
    minimum = minimum or {}
    command = packages.install_command(names)
    root = _as_root() if shutil.which("apt-get") is not None else None
    if root is None:
        raise SetupError(
            f"system packages to install (or upgrade): {', '.join(names)}",
            hint=f"sudo apt-get update && sudo {' '.join(command)}   (then run this again)",
        )
    if root:
        output.info(f"not root: running apt-get through sudo ({' '.join(command)})")
    updated = False
    reasons = stale(names, minimum)
    if reasons:
        _update(root, "; ".join(reasons))
        updated = True
        still = stale(names, minimum)
        if still:
            raise SetupError(
                f"apt cannot install what ci_tools needs even with fresh lists: {'; '.join(still)}",
                hint="enable the distribution's security and updates suites in apt's sources "
                "(Debian 12: bookworm-security), or see the README for alternatives",
            )
    output.phase(f"installing {', '.join(names)} with apt-get")
    try:
        proc.run([*root, *command], env=_ENV)
    except CiToolsError:
        if updated:
            raise
        # Old lists can name files the mirror no longer has: refresh once, retry once.
        _update(root, "apt-get install failed")
        proc.run([*root, *command], env=_ENV)
