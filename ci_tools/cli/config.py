"""``config``: validate the config and print its profile matrix."""

from __future__ import annotations

import argparse
import json

from ci_tools.cli.options import Subparsers, config_option
from ci_tools.errors import ExitCode


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
    parser.set_defaults(func=_config)


def _config(args: argparse.Namespace) -> int:

    from ci_tools import config

    loaded = config.load(args.config, check_paths=not args.no_path_checks)
    print(json.dumps({"include": loaded.matrix()}) if args.json else loaded.describe())
    return ExitCode.OK
