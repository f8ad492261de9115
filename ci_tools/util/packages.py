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
}
# What a benchmark run needs, and what ci_tools' own test suite needs on top
# (an independent cpio reader).
BENCH = ("qemu-system-x86_64", "musl-gcc")
TESTS = ("cpio",)

# Debian package -> a file it installs.  Debian 12's rust-web packages give a
# compiler that can build core for a custom target offline (see build.toolchain).
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
