"""Install what a benchmark run needs: system packages and a guest kernel.

Called by ``python -m ci_tools setup`` and, automatically, by the nox
sessions that need it, so the README's two commands do all the set-up.
How packages are installed (stale lists refreshed, sudo where needed) is
``util.apt``'s business; what to install is ``util.packages``'.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ci_tools import config, output
from ci_tools.build import linux_guest, toolchain
from ci_tools.errors import SetupError
from ci_tools.util import apt, packages


def missing_packages(programs: tuple[str, ...] = packages.BENCH) -> list[str]:
    return packages.missing(programs)


def ensure_packages(programs: tuple[str, ...] = packages.BENCH) -> None:
    apt.install(missing_packages(programs))


def ensure_guest_kernel() -> Path:
    try:
        return linux_guest.find_linux_kernel()
    except SetupError:
        if shutil.which("apt-get") is None:
            raise
        if all(apt.candidate(p) is None for p in linux_guest.META_PACKAGES):
            apt.refresh_lists("no guest kernel package known")
        return linux_guest.fetch_debian_kernel()


def ensure_all(*, for_tests: bool = False) -> None:
    """Everything a bench run needs; with ``for_tests`` also the Rust toolchain
    and the tools and crates ci_tools' own test suite uses."""
    ensure_packages()
    if for_tests:
        apt.install(packages.missing(packages.TESTS) + packages.missing_crates())
        # A rustup nightly with rust-src will do; Debian's toolchain is installed only if not.
        output.info(f"Rust: {toolchain.resolve(config.load()).describe()}")
    kernel = ensure_guest_kernel()
    output.info(f"guest kernel: {kernel}")
    output.info("set-up complete: qemu-system-x86_64, musl-gcc and a guest kernel are available")
