"""Install what a benchmark run needs: system packages and a guest kernel.

Called by ``python -m ci_tools setup`` and, automatically, by the nox
sessions that need it, so the README's two commands do all the set-up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ci_tools import kernels, output
from ci_tools.errors import SetupError
from ci_tools.util import proc

# program -> Debian package that provides it
SYSTEM_PACKAGES = {
    "qemu-system-x86_64": "qemu-system-x86",
    "musl-gcc": "musl-tools",
}


def missing_packages(programs: tuple[str, ...] = tuple(SYSTEM_PACKAGES)) -> list[str]:
    return [SYSTEM_PACKAGES[p] for p in programs if shutil.which(p) is None]


def _apt_lists_present() -> bool:
    lists = Path("/var/lib/apt/lists")
    return lists.is_dir() and any(lists.glob("*_Packages*"))


def ensure_packages(programs: tuple[str, ...] = tuple(SYSTEM_PACKAGES)) -> None:
    _apt_install(missing_packages(programs))


def _apt_install(packages: list[str]) -> None:
    if not packages:
        return
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SetupError(
            f"missing system packages: {', '.join(packages)}",
            hint=f"sudo {' '.join(command)}   (then run this again)",
        )
    output.phase(f"installing {', '.join(packages)} with apt-get")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_lists_present():
        proc.run(["apt-get", "update"], env=env)
    proc.run(command, env=env)


# Debian package -> a file it installs.  Debian 12's rust-web packages give a
# compiler that can build core for a custom target offline (see ci_tools.cargo).
RUST_PACKAGES = {
    "rustc-web": Path("/usr/bin/rustc"),
    "cargo-web": Path("/usr/bin/cargo"),
    "rust-web-src": Path("/usr/lib/rustlib/src/rust/library/core/Cargo.toml"),
    "rust-web-clippy": Path("/usr/bin/cargo-clippy"),
    "rustfmt-web": Path("/usr/bin/cargo-fmt"),
}


def ensure_rust() -> None:
    """Debian's Rust toolchain with the standard library's sources, for the cargo sessions.

    Called when no rustup nightly with rust-src is available (ci_tools.cargo);
    a SetupError with the command to run when this is not a root Debian system.
    """
    _apt_install([package for package, path in RUST_PACKAGES.items() if not path.exists()])


def ensure_guest_kernel() -> Path:
    try:
        return kernels.find_linux_kernel()
    except SetupError:
        if shutil.which("apt-get") is None:
            raise
        if not _apt_lists_present() and os.geteuid() == 0:
            proc.run(["apt-get", "update"], env={"DEBIAN_FRONTEND": "noninteractive"})
        return kernels.fetch_debian_kernel()


# What ci_tools' own test suite needs on top: an independent cpio reader.
TEST_PACKAGES = {"cpio": "cpio"}


def ensure_all(*, for_tests: bool = False) -> None:
    """Everything a bench run needs; with ``for_tests`` also the Rust toolchain
    and the tools ci_tools' own test suite uses."""
    ensure_packages()
    if for_tests:
        from ci_tools import cargo, config

        _apt_install([pkg for prog, pkg in TEST_PACKAGES.items() if shutil.which(prog) is None])
        # A rustup nightly with rust-src will do; Debian's toolchain is installed only if not.
        output.info(f"Rust: {cargo.resolve(config.load()).describe()}")
    kernel = ensure_guest_kernel()
    output.info(f"guest kernel: {kernel}")
    output.info("set-up complete: qemu-system-x86_64, musl-gcc and a guest kernel are available")
