"""``init``: the files a kernel repository needs to adopt ci_tools."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci_tools import RELEASE, REPOSITORY
from ci_tools.cli.options import Subparsers
from ci_tools.errors import ExitCode


def add_init(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "init",
        help="write the four workflow files, a starter ci_tools.toml, a noxfile and the "
        "Makefile include into a kernel repository (never over existing files without --force)",
    )
    parser.add_argument(
        "root", nargs="?", type=Path, default=Path("."), help="the repository (default: here)"
    )
    parser.add_argument(
        "--ref",
        default=RELEASE,
        help=f"the ci_tools tag or commit the workflows call (default: {RELEASE}, this ci_tools)",
    )
    parser.add_argument(
        "--repository", default=REPOSITORY, help=f"ci_tools on GitHub (default: {REPOSITORY})"
    )
    parser.add_argument("--crate", default=".", help="the kernel crate's folder (default: .)")
    parser.add_argument(
        "--target",
        default="x86_64-unknown-none",
        help="the profiles' target: a triple or a JSON target spec relative to the crate",
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    from ci_tools import output
    from ci_tools.github import adopt

    root = args.root.resolve()
    written = adopt.init(
        adopt.InitOptions(
            root=root, ref=args.ref, repository=args.repository, crate=args.crate,
            target=args.target, force=args.force,
        )
    )  # fmt: skip
    for path in written:
        print(path.relative_to(root))
    makefile = root / "Makefile"
    if makefile not in written and "ci_tools.mk" not in makefile.read_text(errors="replace"):
        output.info("add `include ci_tools.mk` to your Makefile for make check/bench/bench-all")
    return ExitCode.OK
