"""What the command groups share: the parser class, argument types, common options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn, TypeAlias

from ci_tools.errors import BadInputError


class Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; ours is the 'bad input' code, 3."""

    def error(self, message: str) -> NoReturn:
        raise BadInputError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="the profile matrix (default: $CI_TOOLS_CONFIG, else ci_tools.toml)",
    )


# What ``add_subparsers`` returns: each command group adds its commands to it.
# (A string: argparse's class takes no type argument at run time.)
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"
