"""Install what a benchmark run needs: system packages and a guest kernel.

Called by ``python -m ci_tools setup`` and, automatically, by the nox
sessions that need it, so the README's two commands do all the set-up.

Package lists are judged by what they offer, not by their presence: a
machine's lists can be days or months old (a cloud image, a container, a
debootstrap root holds only the lists it was made with), and from those apt
installs old versions or finds nothing at all.  Before installing, every
package's candidate is looked up; when one is missing or older than ci_tools
needs, ``apt-get update`` runs first and says why.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_tools import kernels, output, proc
from ci_tools.errors import SetupError

# program -> Debian package that provides it
SYSTEM_PACKAGES = {
    "qemu-system-x86_64": "qemu-system-x86",
    "musl-gcc": "musl-tools",
}

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


def missing_packages(programs: tuple[str, ...] = tuple(SYSTEM_PACKAGES)) -> list[str]:
    return [SYSTEM_PACKAGES[p] for p in programs if shutil.which(p) is None]


def ensure_packages(programs: tuple[str, ...] = tuple(SYSTEM_PACKAGES)) -> None:
    apt_install(missing_packages(programs))


def apt_candidate(package: str) -> str | None:
    """The version ``apt-get install`` would take from the current lists, or None."""
    if shutil.which("apt-cache") is None:
        return None
    policy = proc.run(["apt-cache", "policy", package], quiet=True, check=False).stdout
    match = re.search(r"^\s*Candidate:\s*(\S+)", policy, re.MULTILINE)
    if match is None or match.group(1) == "(none)":
        return None
    return match.group(1)


def version_older(version: str, than: str) -> bool:
    """Debian version order (``dpkg --compare-versions``): 1.85.0+dfsg3-1~deb12u3 < 1.96."""
    result = proc.run(["dpkg", "--compare-versions", version, "lt", than], quiet=True, check=False)
    return result.returncode == 0


def _stale(packages: Sequence[str], minimum: Mapping[str, str]) -> list[str]:
    """Why the current package lists cannot give these packages (empty when they can),
    one reason per kind: 'rustc-web, cargo-web 1.85.0+dfsg3-1~deb12u3 is older than 1.96'."""
    why: dict[str, list[str]] = {}
    for package in packages:
        candidate = apt_candidate(package)
        if candidate is None:
            why.setdefault("no candidate", []).append(package)
        elif package in minimum and version_older(candidate, minimum[package]):
            why.setdefault(f"{candidate} is older than {minimum[package]}", []).append(package)
    return [f"{', '.join(names)}: {reason}" for reason, names in why.items()]


def apt_install(packages: Sequence[str], *, minimum: Mapping[str, str] | None = None) -> None:
    """``apt-get install`` these packages (at least ``minimum`` versions), refreshing
    the package lists first when they cannot give them.  As another user than root:
    a SetupError with the exact commands to run."""
    if not packages:
        return
    minimum = minimum or {}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SetupError(
            f"missing system packages: {', '.join(packages)}",
            hint=f"sudo apt-get update && sudo {' '.join(command)}   (then run this again)",
        )
    stale = _stale(packages, minimum)
    if stale:
        output.phase(f"refreshing apt's package lists ({'; '.join(stale)}): apt-get update")
        proc.run(["apt-get", "update"], env=APT_ENV)
        still = _stale(packages, minimum)
        if still:
            raise SetupError(
                f"apt cannot install what ci_tools needs even with fresh lists: {'; '.join(still)}",
                hint="enable the distribution's security and updates suites in apt's "
                "sources (Debian 12: bookworm-security), or see the README for alternatives",
            )
    output.phase(f"installing {', '.join(packages)} with apt-get")
    proc.run(command, env=APT_ENV)


# Debian package -> a file it installs.  Debian 12's rust-web packages give a
# compiler that can build core for a custom target offline (see ci_tools.cargo)
# from 1.96 on (bookworm-security): 1.85, in bookworm itself, ships no vendored
# sources of the standard library's dependencies, so -Z build-std cannot work
# without crates.io.
RUST_PACKAGES = {
    "rustc-web": Path("/usr/bin/rustc"),
    "cargo-web": Path("/usr/bin/cargo"),
    "rust-web-src": Path("/usr/lib/rustlib/src/rust/library/core/Cargo.toml"),
    "rust-web-clippy": Path("/usr/bin/cargo-clippy"),
    "rustfmt-web": Path("/usr/bin/cargo-fmt"),
}
RUST_WEB_MINIMUM = "1.96"


def ensure_rust() -> None:
    """Debian's Rust toolchain with the standard library's sources, for the cargo sessions.

    Called when no usable toolchain was found (ci_tools.cargo): installs the
    rust-web packages, or upgrades them when the installed ones are too old
    (``apt-get install`` takes the candidate); a SetupError with the command to
    run when this is not a root Debian system.
    """
    apt_install(list(RUST_PACKAGES), minimum=dict.fromkeys(RUST_PACKAGES, RUST_WEB_MINIMUM))


def ensure_guest_kernel() -> Path:
    try:
        return kernels.find_linux_kernel()
    except SetupError:
        if shutil.which("apt-get") is None:
            raise
        if os.geteuid() == 0 and all(apt_candidate(p) is None for p in kernels.META_PACKAGES):
            output.phase("refreshing apt's package lists (no guest kernel package known)")
            proc.run(["apt-get", "update"], env=APT_ENV)
        return kernels.fetch_debian_kernel()


# What ci_tools' own test suite needs on top: an independent cpio reader.
# (an independent cpio reader, and make for the ci_tools.mk tests)
TEST_PACKAGES = {"cpio": "cpio", "make": "make"}
# Debian's packaged crates that the demo kernel (examples/kernel) depends on
# through its own .cargo/config.toml: package -> the folder it installs.
CRATE_REGISTRY = Path("/usr/share/cargo/registry")
TEST_CRATES = {"librust-static-assertions-dev": "static_assertions-*"}


def ensure_all(*, for_tests: bool = False) -> None:
    """Everything a bench run needs; with ``for_tests`` also the Rust toolchain
    and the tools ci_tools' own test suite uses."""
    ensure_packages()
    if for_tests:
        from ci_tools import cargo, config

        apt_install(
            [pkg for prog, pkg in TEST_PACKAGES.items() if shutil.which(prog) is None]
            + [pkg for pkg, crate in TEST_CRATES.items() if not any(CRATE_REGISTRY.glob(crate))]
        )
        # A rustup nightly with rust-src will do; Debian's toolchain is installed only if not.
        output.info(f"Rust: {cargo.resolve(config.load()).describe()}")
    kernel = ensure_guest_kernel()
    output.info(f"guest kernel: {kernel}")
    output.info("set-up complete: qemu-system-x86_64, musl-gcc and a guest kernel are available")
