"""Find, or fetch, the stock Linux kernel used as the reference guest."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ci_tools import output
from ci_tools.errors import SetupError
from ci_tools.util import locks, proc
from ci_tools.util.paths import cache_dir

ENV_VAR = "CI_TOOLS_LINUX_KERNEL"
# The distribution's "current kernel" package: Debian's, then Ubuntu's.
META_PACKAGES = ("linux-image-amd64", "linux-image-generic")

FETCH_HINT = (
    "run `python -m ci_tools setup` (downloads Debian's linux-image-amd64 or Ubuntu's "
    "linux-image-generic into ci_tools' cache, "
    f"no root needed), set {ENV_VAR}=/path/to/vmlinuz, or give --kernel PATH"
)


def _version_key(path: Path) -> list[object]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def _candidates() -> list[Path]:
    found = sorted(Path("/boot").glob("vmlinuz-*"), key=_version_key, reverse=True)
    cached = sorted(cache_dir("kernels").glob("*/boot/vmlinuz-*"), key=_version_key, reverse=True)
    return found + cached


def find_linux_kernel(configured: Path | None = None) -> Path:
    """The kernel to boot: --kernel / config, then $CI_TOOLS_LINUX_KERNEL, /boot, the cache."""
    explicit = configured or (Path(os.environ[ENV_VAR]) if os.environ.get(ENV_VAR) else None)
    if explicit is not None:
        if not explicit.is_file():
            raise SetupError(f"guest kernel {explicit} does not exist", hint=FETCH_HINT)
        if not os.access(explicit, os.R_OK):
            raise SetupError(
                f"guest kernel {explicit} is not readable by this user",
                hint=f"sudo chmod a+r {explicit}, or copy it somewhere readable",
            )
        return explicit
    unreadable = []
    for candidate in _candidates():
        if os.access(candidate, os.R_OK):
            return candidate
        unreadable.append(str(candidate))
    note = f" ({', '.join(unreadable)} exist but are not readable)" if unreadable else ""
    raise SetupError(
        f"no Linux guest kernel found in /boot or ci_tools' cache{note}", hint=FETCH_HINT
    )


def fetch_debian_kernel() -> Path:
    """Download the distribution's current kernel package and unpack it into the cache.

    Uses ``apt-get download`` (no root needed, /boot untouched, no
    update-initramfs) and ``dpkg-deb -x``.
    """
    package = None
    for meta in META_PACKAGES:
        depends = proc.run(["apt-cache", "depends", meta], quiet=True, check=False).stdout
        match = re.search(r"Depends:\s*(linux-image-\S+)", depends)
        if match is not None:
            package = match.group(1)
            break
    if package is None:
        raise SetupError(
            f"apt knows none of {', '.join(META_PACKAGES)}",
            hint=f"run `apt-get update` first (as root), or set {ENV_VAR}=/path/to/vmlinuz",
        )
    root = cache_dir("kernels")
    target = root / package
    # One download at a time: a second run waits here, then finds the first's kernel.
    waiting = "waiting for another ci_tools run that is downloading the guest kernel"
    with locks.exclusive(root / ".fetch.lock", waiting=waiting):
        existing = sorted(target.glob("boot/vmlinuz-*"))
        if existing:
            return existing[-1]
        output.phase(f"downloading guest kernel package {package}")
        # Private folders, renamed into place whole: a reader never sees half a kernel,
        # and no run removes another's download (a killed run's is swept).
        with locks.scratch_dir(root, ".download-") as scratch:
            proc.run(["apt-get", "download", package], cwd=scratch)
            debs = list(scratch.glob(f"{package}_*.deb"))
            if not debs:
                raise SetupError(f"apt-get download {package} produced no .deb file")
            staging = scratch / "tree"
            proc.run(["dpkg-deb", "-x", str(debs[0]), str(staging)])
            os.replace(staging, target)
    kernels = sorted(target.glob("boot/vmlinuz-*"))
    if not kernels:
        raise SetupError(f"{package} contains no boot/vmlinuz-*")
    return kernels[-1]
