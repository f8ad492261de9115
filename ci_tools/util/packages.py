"""The one table of what to install: every program ci_tools runs, and its Debian package.

``proc.which`` names the package when a program is missing, ``host.provision``
installs the programs a bench run (or ci_tools' own tests) needs, and
``build.toolchain`` installs Debian's Rust toolchain from ``RUST``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

# program -> the Debian/Ubuntu package that provides it
PROGRAMS: dict[str, str] = {
    "qemu-system-x86_64": "qemu-system-x86",
    "musl-gcc": "musl-tools",
    "dpkg-deb": "dpkg",
    "cpio": "cpio",
    "make": "make",
    "chromium": "chromium",
}
# What a benchmark run needs, and what ci_tools' own test suite needs on top
# (an independent cpio reader, make for the ci_tools.mk tests, a headless browser
# that renders the history report).
BENCH = ("qemu-system-x86_64", "musl-gcc")
TESTS = ("cpio", "make", "chromium")

# Debian's packaged crates that the demo kernel (examples/kernel) depends on
# through its own .cargo/config.toml: package -> the folder it installs.
CRATE_REGISTRY = Path("/usr/share/cargo/registry")
TEST_CRATES = {"librust-static-assertions-dev": "static_assertions-*"}

# Debian package -> a file it installs.  Debian 12's rust-web packages give a
# compiler that can build core for a custom target offline (see build.toolchain)
# from 1.96 on (bookworm-security): 1.85, in bookworm itself, ships no vendored
# sources of the standard library's dependencies, so -Z build-std cannot work
# without crates.io.
RUST_MINIMUM = "1.96"
RUST: dict[str, Path] = {
    "rustc-web": Path("/usr/bin/rustc"),
    "cargo-web": Path("/usr/bin/cargo"),
    "rust-web-src": Path("/usr/lib/rustlib/src/rust/library/core/Cargo.toml"),
    "rust-web-clippy": Path("/usr/bin/cargo-clippy"),
    "rustfmt-web": Path("/usr/bin/cargo-fmt"),
}

# Programs no package of this table provides: what to do instead.
_OTHER_HINTS = {
    "apt-get": "ci_tools fetches guest kernels with apt-get; on other systems set "
    "[linux] kernel = '/path/to/vmlinuz' in the config",
    "cargo": "install a Rust toolchain (rustup, or apt-get install cargo-web rustc-web)",
}


def install_command(packages: Iterable[str]) -> list[str]:
    """``apt-get install`` of ``packages``, as ci_tools runs it (and tells a user to)."""
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def install_hint(program: str) -> str:
    """What to do when ``program`` is missing."""
    if program in PROGRAMS:
        return f"apt-get install --no-install-recommends {PROGRAMS[program]}"
    return _OTHER_HINTS.get(program, f"install {program}")


def missing(programs: Iterable[str] = BENCH) -> list[str]:
    """The packages of those ``programs`` that are not on PATH."""
    return [PROGRAMS[p] for p in programs if shutil.which(p) is None]


def missing_crates() -> list[str]:
    """The packages of ``TEST_CRATES`` whose crate is not in Debian's registry."""
    return [pkg for pkg, crate in TEST_CRATES.items() if not any(CRATE_REGISTRY.glob(crate))]
