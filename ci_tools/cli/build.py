"""``check``, ``clippy`` and ``fmt``: cargo on the kernel crate, per profile."""

from __future__ import annotations

import argparse

from ci_tools.cli.options import Subparsers, config_option
from ci_tools.errors import ExitCode


def add_check(sub: Subparsers) -> None:
    parser = sub.add_parser("check", help="cargo check one profile with its exact flags")
    parser.add_argument("profile")
    config_option(parser)
    parser.set_defaults(func=_check)


def _check(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.build import checks

    checks.check(config.load(args.config), args.profile)
    return ExitCode.OK


def add_clippy(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "clippy", help="cargo clippy with each profile's check flags; warnings fail it"
    )
    parser.add_argument(
        "profiles", nargs="*", help="profiles to lint (default: [clippy] profiles, else all)"
    )
    config_option(parser)
    parser.set_defaults(func=_clippy)


def _clippy(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.build import checks

    checks.clippy(config.load(args.config), args.profiles)
    return ExitCode.OK


def add_fmt(sub: Subparsers) -> None:
    parser = sub.add_parser("fmt", help="cargo fmt --check on the kernel crate, diffs per file")
    config_option(parser)
    parser.set_defaults(func=_fmt)


def _fmt(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.build import checks

    checks.fmt(config.load(args.config))
    return ExitCode.OK
