"""Where cargo finds crates when the standard library is built from source offline.

With Debian's toolchain, ``-Z build-std`` resolves the standard library's own
dependencies (compiler_builtins' helpers, hashbrown, ...) through the
``crates-io`` source, and on a machine without crates.io they can only come
from the folder Debian ships beside the library sources
(``/usr/lib/rustlib/src/rust/library/vendor``).  The kernel's own crates.io
dependencies come from wherever the kernel's cargo configuration says.  Cargo
has one ``crates-io`` for both, so:

- the kernel replaces crates-io with a **directory** source (vendored crates,
  Debian's ``/usr/share/cargo/registry``): ci_tools makes one folder that
  holds both (links to every crate of each; the standard library's version
  wins a clash, since the standard library is built against it) and points
  crates-io there, for this command only;
- the kernel does not replace crates-io: its crates.io dependencies cannot be
  had offline, so crates-io becomes the standard library's folder, and a
  kernel that needs crates that are not in it gets an error naming them and
  the fix (vendor them), not cargo's "no matching package";
- the kernel replaces crates-io with another kind of source (a registry, git):
  nothing can be merged; crates-io becomes the standard library's folder as
  above and the same check applies.

Nothing is written into the kernel's tree or ``CARGO_HOME``: the merged
folder lives in ci_tools' cache, built under a unique name and renamed into
place, so concurrent runs never see half of one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_tools.errors import SetupError
from ci_tools.util import locks
from ci_tools.util.paths import cache_dir

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"
MERGED_SOURCE = "ci-tools-offline"


@dataclass(frozen=True, kw_only=True)
class Replacement:
    """What the kernel's cargo configuration does with crates-io."""

    name: str  # the source crates-io is replaced with
    directory: Path | None  # its folder, when it is a directory source
    defined_in: Path  # the config file that says so


def _config_files(workdir: Path, cargo_home: Path) -> list[Path]:
    """Cargo's configuration files for a command run in ``workdir``, least specific
    first (cargo: the current folder and its parents, then ``$CARGO_HOME``)."""
    found = []
    for folder in [workdir, *workdir.parents]:
        for name in ("config.toml", "config"):
            path = folder / ".cargo" / name
            if path.is_file():
                found.append(path)
                break
    home = next(
        (cargo_home / n for n in ("config.toml", "config") if (cargo_home / n).is_file()), None
    )
    if home is not None and home not in found:
        found.append(home)
    return list(reversed(found))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SetupError(
            f"cannot read cargo configuration {path}: {exc}", hint="fix or remove that file"
        ) from None


def kernel_replacement(workdir: Path, cargo_home: Path | None = None) -> Replacement | None:
    """The source the kernel's cargo configuration puts in place of crates-io, if any."""
    home = cargo_home or Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
    sources: dict[str, tuple[dict[str, Any], Path]] = {}
    for path in _config_files(workdir, home):
        for name, table in (_read_toml(path).get("source") or {}).items():
            if isinstance(table, dict):
                merged = {**sources.get(name, ({}, path))[0], **table}
                sources[name] = (merged, path)
    crates_io = sources.get("crates-io")
    if crates_io is None or not isinstance(crates_io[0].get("replace-with"), str):
        return None
    name = crates_io[0]["replace-with"]
    table, defined_in = sources.get(name, ({}, crates_io[1]))
    directory = table.get("directory")
    if not isinstance(directory, str):
        return Replacement(name=name, directory=None, defined_in=crates_io[1])
    # Cargo: a relative path is relative to the folder holding `.cargo/`.
    return Replacement(
        name=name, directory=(defined_in.parent.parent / directory).resolve(), defined_in=defined_in
    )


def _crate_dirs(folder: Path) -> dict[str, Path]:
    """Crate folders of a directory source: name-version -> path."""
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / "Cargo.toml").is_file()}


def merged_directory(std_vendor: Path, kernel_dir: Path) -> Path:
    """A folder holding every crate of both directory sources (links), the standard
    library's winning a clash; made once per distinct pair of contents."""
    entries = {**_crate_dirs(kernel_dir), **_crate_dirs(std_vendor)}
    digest = hashlib.sha256()
    for name, path in sorted(entries.items()):
        digest.update(f"{name}\0{path}\n".encode())
    target = cache_dir("cargo-sources") / digest.hexdigest()[:20]
    if target.is_dir():
        return target
    with locks.scratch_dir(target.parent, ".partial-") as scratch:
        staging = scratch / "crates"
        staging.mkdir()
        for name, path in entries.items():
            (staging / name).symlink_to(path)
        with contextlib.suppress(OSError):  # another run made it first: theirs is identical
            staging.rename(target)
    return target


def _locked_crates_io_packages(lockfile: Path) -> list[str]:
    """name-version of every crates.io package in a Cargo.lock (empty without one)."""
    if not lockfile.is_file():
        return []
    packages = _read_toml(lockfile).get("package") or []
    return [
        f"{p['name']}-{p['version']}"
        for p in packages
        if isinstance(p, dict) and p.get("source") == CRATES_IO
    ]


def _missing(wanted: Iterable[str], available: Mapping[str, Path]) -> list[str]:
    return [crate for crate in wanted if crate not in available]


def offline_source_args(workdir: Path, lockfile: Path, std_vendor: Path) -> tuple[str, ...]:
    """The ``--config`` flags that let ``-Z build-std`` and the kernel's own
    dependencies resolve offline together (see the module docstring)."""
    replacement = kernel_replacement(workdir)
    locked = _locked_crates_io_packages(lockfile)
    if replacement is not None and replacement.directory is not None:
        missing = _missing(
            locked, {**_crate_dirs(replacement.directory), **_crate_dirs(std_vendor)}
        )
        if missing:
            gone = "" if replacement.directory.is_dir() else " (the folder does not exist)"
            raise SetupError(
                f"the kernel's cargo configuration ({replacement.defined_in}) takes crates.io "
                f"crates from {replacement.directory}{gone}, which lacks {', '.join(missing)}",
                hint="fill that folder (`cargo vendor`, or install the Debian librust-*-dev "
                "packages it names), then run again",
            )
        folder = merged_directory(std_vendor, replacement.directory)
    else:
        folder = std_vendor
        missing = _missing(locked, _crate_dirs(std_vendor))
        if missing:
            where = (
                f"its cargo configuration ({replacement.defined_in}) replaces crates-io with "
                f"{replacement.name!r}, which is not a directory source"
                if replacement is not None
                else "its cargo configuration does not replace crates-io"
            )
            raise SetupError(
                f"the kernel's crates.io dependencies ({', '.join(missing)}) cannot be had "
                f"offline with Debian's toolchain: {where}",
                hint="vendor them (`cargo vendor vendor/`) and add to .cargo/config.toml: "
                '[source.crates-io] replace-with = "vendored-sources" and '
                '[source.vendored-sources] directory = "vendor"; or use a rustup nightly '
                "with rust-src and network access",
            )
    return (
        "--config",
        f'source.crates-io.replace-with="{MERGED_SOURCE}"',
        "--config",
        f"source.{MERGED_SOURCE}.directory={toml_string(str(folder))}",
    )


def toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
