"""What a kernel repository needs to adopt ci_tools: the files ``ci_tools init`` writes.

Four workflow files of about ten lines that call ci_tools' reusable
workflows (checks on push and pull request, benchmarks of a pull request,
the comment after them on ``workflow_run``, the history of main on push
and a weekly compaction), a starter ``ci_tools.toml``
with a pinned nightly, a noxfile with the profile sessions, and the
Makefile include.  Existing files are never overwritten without ``force``,
and nothing is written when one would be.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ci_tools import REPOSITORY, config
from ci_tools.errors import BadInputError
from ci_tools.util.files import write_atomic
from ci_tools.util.paths import data_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The nightly a starter config pins (ci_tools' own CI runs the demo kernel on it).
STARTER_NIGHTLY = "nightly-2026-11-15"
WORKFLOWS = {
    "checks": "checks.yml",
    "bench": "bench.yml",
    "comment": "bench-comment.yml",
    "history": "bench-history.yml",
}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True, kw_only=True)
class InitOptions:
    root: Path  # the kernel repository
    ref: str  # the ci_tools tag (or commit) the workflows call
    repository: str = REPOSITORY
    crate: str = "."  # the kernel crate, relative to root
    target: str = "x86_64-unknown-none"  # the profiles' target: a triple or a .json spec
    toolchain: str = STARTER_NIGHTLY
    force: bool = False


def _uses(options: InitOptions, workflow: str) -> str:
    """The ``uses:`` line, and ``with: ci-tools-ref`` when pinned to a commit (the tag's
    default would otherwise install another ci_tools than the workflow's)."""
    line = f"    uses: {options.repository}/.github/workflows/{workflow}@{options.ref}\n"
    if _COMMIT.match(options.ref):
        line += f"    with:\n      ci-tools-ref: {options.ref}\n"
    return line


def workflow_files(options: InitOptions) -> dict[str, str]:
    """The caller workflows, by path relative to the repository."""
    checks = (
        "name: Checks\n"
        "on:\n  push:\n    branches: [main]\n  pull_request:\n"
        "permissions: {}\n"
        "jobs:\n  checks:\n" + _uses(options, "checks.yml") + "    permissions:\n"
        "      contents: read\n"
    )
    bench = (
        "name: Benchmarks\n"
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n  bench:\n" + _uses(options, "bench.yml") + "    permissions:\n"
        "      contents: read\n"
    )
    comment = (
        "name: Benchmark comment\n"
        "on:\n"
        "  workflow_run:  # zizmor: ignore[dangerous-triggers] -- it never runs PR code\n"
        "    workflows: [Benchmarks]\n    types: [completed]\n"
        "permissions: {}\n"
        "jobs:\n  comment:\n" + _uses(options, "comment.yml") + "    permissions:\n"
        "      actions: read\n      contents: read\n      pull-requests: write\n"
    )
    history = (
        "name: Benchmark history\n"
        'on:\n  push:\n    branches: [main]\n  schedule:\n    - cron: "17 3 * * 1"\n'
        "permissions: {}\n"
        "jobs:\n  history:\n" + _uses(options, "history.yml") + "    permissions:\n"
        "      contents: write\n"
    )
    texts = {"checks": checks, "bench": bench, "comment": comment, "history": history}
    return {f".github/workflows/{WORKFLOWS[k]}": texts[k] for k in WORKFLOWS}


def _zizmor(options: InitOptions) -> str:
    return (
        "# zizmor's settings.  ci_tools' reusable workflows are called at a tag of\n"
        f"# {options.repository}, trusted as actions/* tags are; `ci_tools init --ref <commit>`\n"
        "# pins a commit instead.  GitHub Enterprise Server has no `$/` syntax.\n"
        "rules:\n"
        "  unpinned-uses:\n    config:\n      policies:\n"
        f'        "{options.repository}/*": ref-pin\n'
        "  self-repository:\n    disable: true\n"
    )


def _profiles(crate_dir: Path) -> list[str]:
    """The crate's ``profile-<name>`` features (Kevlar's convention), else one profile."""
    try:
        with (crate_dir / "Cargo.toml").open("rb") as fh:
            features = tomllib.load(fh).get("features", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BadInputError(
            f"{crate_dir / 'Cargo.toml'}: not a readable Cargo.toml ({exc})",
            hint="pass --crate with the kernel crate's folder",
        ) from exc
    names = [f.removeprefix("profile-") for f in features if f.startswith("profile-")]
    return names or ["default"]


def starter_config(options: InitOptions) -> str:
    crate_dir = options.root / options.crate
    pinned = any((crate_dir / f).is_file() for f in ("rust-toolchain.toml", "rust-toolchain"))
    toolchain = (
        "# the nightly is pinned by the crate's rust-toolchain file\n"
        if pinned
        else f'rustup_toolchain = "{options.toolchain}"  # CI installs this dated nightly\n'
    )
    text = (
        "# ci_tools' profile matrix: checks, clippy, benchmarks and the PR gate are\n"
        "# derived from it.  `python -m ci_tools config` checks it; the README of ci_tools\n"
        "# lists every key ([bench] says how a profile's kernel boots).\n"
        "schema_version = 1\n\n"
        f'[kernel]\ncrate = "{options.crate}"\n{toolchain}'
    )
    for name in _profiles(crate_dir):
        features = f'["profile-{name}"]' if name != "default" else "[]"
        text += f'\n[profiles.{name}]\ntarget = "{options.target}"\nfeatures = {features}\n'
    return text


NOXFILE = '''"""nox sessions from ci_tools.toml: check-<profile>, clippy, fmt, bench-<profile>."""

from ci_tools import sessions

sessions.register()
'''


def files(options: InitOptions) -> dict[str, str]:
    """Every file ``init`` writes, by path relative to the repository."""
    out = workflow_files(options)
    out[".github/zizmor.yml"] = _zizmor(options)
    out["ci_tools.toml"] = starter_config(options)
    out["noxfile.py"] = NOXFILE
    out["ci_tools.mk"] = data_file("ci_tools.mk").read_text()
    if not (options.root / "Makefile").exists():
        out["Makefile"] = "include ci_tools.mk\n"
    return out


def init(options: InitOptions) -> list[Path]:
    """Write the files; refuse (writing none) when any exists, unless ``force``."""
    if not (options.root / options.crate / "Cargo.toml").is_file():
        raise BadInputError(
            f"no Cargo.toml in {options.root / options.crate}",
            hint="run it at the kernel repository's root, with --crate <folder> if the "
            "crate is not there",
        )
    planned = files(options)
    _check_config(options.root, planned["ci_tools.toml"])
    existing = [p for p in planned if (options.root / p).exists()]
    if existing and not options.force:
        raise BadInputError(
            f"{len(existing)} file(s) exist already: {', '.join(existing)}; nothing was written",
            hint="move them aside, or pass --force to overwrite them",
        )
    written = []
    for relative, text in planned.items():
        path = options.root / relative
        write_atomic(path, text)
        written.append(path)
    return written


def _check_config(root: Path, text: str) -> None:
    """The starter config loads (its paths relative to ``root``) before anything is written."""
    fd, name = tempfile.mkstemp(dir=root, prefix=".ci_tools-init.", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        config.load(Path(name))
    finally:
        Path(name).unlink(missing_ok=True)
