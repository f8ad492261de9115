"""``config``: validate the config and print its profile matrix."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from ci_tools.cli.options import Subparsers, config_option
from ci_tools.errors import BadInputError, ExitCode

if TYPE_CHECKING:
    from ci_tools.config import Config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def add_config(sub: Subparsers) -> None:
    parser = sub.add_parser("config", help="validate the config and print its profile matrix")
    config_option(parser)
    parser.add_argument(
        "--json", action="store_true", help="the matrix as JSON (for a GitHub Actions matrix)"
    )
    parser.add_argument(
        "--no-path-checks",
        action="store_true",
        help="do not check that the crate and target specs exist (a config for another checkout)",
    )
    parser.add_argument(
        "--github-output",
        action="store_true",
        help="write the step outputs the reusable workflows use: matrix (JSON), crate-dir "
        "(relative), rustup-toolchain (the pinned nightly)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        help="only this profile in the matrix; repeatable (default: every profile)",
    )
    parser.set_defaults(func=_config)


def _config(args: argparse.Namespace) -> int:

    from ci_tools import config
    from ci_tools.github import event

    loaded = config.load(args.config, check_paths=not args.no_path_checks)
    matrix = loaded.matrix()
    if args.profile:
        unknown = sorted(set(args.profile) - {m["profile"] for m in matrix})
        if unknown:
            raise BadInputError(
                f"no profile {', '.join(unknown)} in {loaded.path}",
                hint=f"the profiles are {', '.join(m['profile'] for m in matrix)}",
            )
        matrix = [m for m in matrix if m["profile"] in args.profile]
    if args.github_output:
        facts = {
            "matrix": json.dumps({"include": matrix}),
            "crate-dir": os.path.relpath(loaded.kernel.crate_dir, loaded.root),
            "rustup-toolchain": _pinned_toolchain(loaded),
        }
        for name, value in facts.items():
            print(f"{name}={value}")
            event.set_output(name, value)
        return ExitCode.OK
    print(json.dumps({"include": matrix}) if args.json else loaded.describe())
    return ExitCode.OK


def _pinned_toolchain(loaded: Config) -> str:
    """The dated nightly CI installs: ``[kernel] rustup_toolchain``, else the channel of
    the crate's rust-toolchain file, else '' (the workflow's ``rust-toolchain`` input
    must say).  A floating one is refused: a cache keyed by ``rustc -vV`` is only worth
    keeping when the next run has the same compiler."""
    name = loaded.kernel.rustup_toolchain
    workdir = loaded.kernel.workdir
    if name is None and (workdir / "rust-toolchain.toml").is_file():
        with (workdir / "rust-toolchain.toml").open("rb") as fh:
            name = tomllib.load(fh).get("toolchain", {}).get("channel")
    elif name is None and (workdir / "rust-toolchain").is_file():
        name = (workdir / "rust-toolchain").read_text().strip() or None
    if name is None:
        return ""
    if not isinstance(name, str) or not name.startswith("nightly-"):
        raise BadInputError(
            f"{loaded.path}: CI needs a nightly pinned to a date, found {name!r}",
            hint='set [kernel] rustup_toolchain = "nightly-YYYY-MM-DD" (or the channel of the '
            "crate's rust-toolchain.toml); a bare 'nightly' changes under a cached target/",
        )
    return name
