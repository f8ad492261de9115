"""``compare``, ``cost`` and ``calibrate``: result files set against each other."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ci_tools import output
from ci_tools.cli.options import Subparsers
from ci_tools.errors import BadInputError, ExitCode


def add_compare(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "compare",
        help="compare result files (the first is the baseline); exit 0 ok, 1 regression, "
        "2 inconclusive, 3 cannot compare",
    )
    parser.add_argument("files", nargs="+", type=Path, help="BASE.json HEAD.json [MORE.json ...]")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write GitHub markdown")
    parser.add_argument(
        "--plain", action="store_true", help="Kevlar's side-by-side table, a ratio column per file"
    )
    parser.add_argument(
        "--force", action="store_true", help="compare results taken under different setups"
    )
    parser.add_argument(
        "--config", type=Path, help="ci_tools.toml with [compare] min_effect (default: if present)"
    )
    parser.add_argument(
        "--alpha", type=float, default=None, help="family-wise false-alarm rate (default 0.01)"
    )
    parser.add_argument(
        "--pairs",
        action="store_true",
        help="files are BASE1 HEAD1 BASE2 HEAD2 ...: one table, one family (a profile matrix)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        help="noise floors from A/A runs, written by `ci_tools calibrate`",
    )
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from ci_tools.compare import calibration, decide
    from ci_tools.report import tables
    from ci_tools.results import store

    loaded = [store.load(path) for path in args.files]
    if args.pairs and len(loaded) % 2:
        raise BadInputError("--pairs needs an even number of files: BASE1 HEAD1 BASE2 HEAD2 ...")
    pairs = list(zip(loaded[::2], loaded[1::2], strict=True)) if args.pairs else None
    comparison = decide.compare_pairs(
        pairs or [(loaded[0], r) for r in loaded[1:]],
        min_effects=decide.min_effects_from_config(args.config),
        force=args.force,
        alpha=decide.DEFAULT_ALPHA if args.alpha is None else args.alpha,
        noise_floors=(
            calibration.load_calibration(args.calibration, mode=loaded[0].setup.mode)
            if args.calibration
            else None
        ),
    )
    print(tables.comparison_plain(comparison) if args.plain else tables.comparison_text(comparison))
    _publish(tables.comparison_markdown(comparison), args.markdown)
    return comparison.exit_code


def add_cost(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "cost", help="each profile's medians against the fastest profile and the Linux guest"
    )
    parser.add_argument(
        "--reference", type=Path, help="the Linux guest's result (without: profiles only)"
    )
    parser.add_argument("files", nargs="+", type=Path, help="one result file per profile")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write GitHub markdown")
    parser.add_argument(
        "--force", action="store_true", help="set results taken under different setups side by side"
    )
    parser.set_defaults(func=_cost)


def _cost(args: argparse.Namespace) -> int:
    from ci_tools.compare import cost
    from ci_tools.report import tables
    from ci_tools.results import store

    reference = store.load(args.reference) if args.reference is not None else None
    table = cost.cost_table(reference, [store.load(p) for p in args.files], force=args.force)
    print(tables.cost_text(table))
    _publish(tables.cost_markdown(table), args.markdown)
    return ExitCode.OK


def add_calibrate(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "calibrate", help="noise floors from A/A runs of the same code, for compare --calibration"
    )
    parser.add_argument("files", nargs="+", type=Path, help="two or more runs of the same code")
    parser.add_argument("--output", "-o", type=Path, required=True, help="calibration JSON")
    parser.add_argument("--force", action="store_true", help="accept runs taken differently")
    parser.set_defaults(func=_calibrate)


def _calibrate(args: argparse.Namespace) -> int:

    from ci_tools.compare import calibration
    from ci_tools.results import store
    from ci_tools.util import files

    document = calibration.calibrate([store.load(p) for p in args.files], force=args.force)
    files.write_atomic(args.output, json.dumps(document, indent=2) + "\n")
    for name, floor in document["noise_floor"].items():
        print(f"{name:<16} {floor:7.1%}")
    print(f"\ncalibration: {args.output}")
    return ExitCode.OK


def _publish(markdown: str, path: Path | None) -> None:
    """A table's markdown to ``--markdown PATH`` (when given) and to the job summary."""
    from ci_tools.util import files

    if path:
        files.write_atomic(path, markdown)
    output.append_summary(markdown)
