"""``history``: main's performance history (``history report`` is the default action),
``history record`` and ``history compact`` (the data branch)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ci_tools import output
from ci_tools.cli.options import Parser, Subparsers, positive
from ci_tools.errors import BadInputError, ExitCode

ACTIONS = ("report", "record", "compact")


def with_default_action(argv: Sequence[str]) -> list[str]:
    """``history PATHS`` means ``history report PATHS``."""
    args = list(argv)
    if args[:1] == ["history"] and (len(args) == 1 or args[1] not in (*ACTIONS, "-h", "--help")):
        args.insert(1, "report")
    return args


def _branch_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    from ci_tools.history.store import DEFAULT_BRANCH

    parser.add_argument(
        "--remote",
        required=required,
        help="where the history branch lives: a remote's name (origin), a URL or a path",
    )
    parser.add_argument("--branch", default=DEFAULT_BRANCH, help=f"default {DEFAULT_BRANCH}")
    parser.add_argument(
        "--repo", type=Path, default=Path("."), help="a local clone to work in (default: .)"
    )


def add_history(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "history",
        help="main's performance history: change points per profile and benchmark, an HTML "
        "report; `history record` / `history compact` keep the data branch",
    )
    actions = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    report = actions.add_parser(
        "report", help="(the default) series, change points, and --html / --markdown reports"
    )
    report.add_argument(
        "paths", nargs="*", type=Path, help="result files, history records, or folders of them"
    )
    _branch_options(report, required=False)
    report.add_argument("--html", type=Path, metavar="PATH", help="write the HTML report here")
    report.add_argument(
        "--markdown", type=Path, metavar="PATH", help="write the markdown summary here"
    )
    report.add_argument(
        "--commit-url",
        help="link template with {commit} (default: GitHub's, from $GITHUB_SERVER_URL and "
        "$GITHUB_REPOSITORY; else the report's own commit table)",
    )
    report.add_argument(
        "--min-step",
        type=float,
        default=None,
        help="smallest step reported, as a fraction (default 0.01: 1%%)",
    )
    report.set_defaults(func=_report)

    record = actions.add_parser("record", help="store result files of a commit of main")
    record.add_argument("files", nargs="+", type=Path, help="result files of that commit")
    record.add_argument("--commit", required=True, help="the commit they measured (its SHA)")
    _branch_options(record, required=True)
    record.set_defaults(func=_record)

    compact = actions.add_parser(
        "compact", help="keep one run a week per profile for runs older than --keep-days"
    )
    _branch_options(compact, required=True)
    compact.add_argument("--keep-days", type=positive, default=None, help="default 90")
    compact.set_defaults(func=_compact)


def _report(args: argparse.Namespace) -> int:
    import datetime as dt

    from ci_tools.compare import cost
    from ci_tools.history import changes, files, series, store
    from ci_tools.report import history, html
    from ci_tools.util import files as util_files

    if not args.paths and args.remote is None:
        raise BadInputError(
            "history needs runs to read: result files or folders, or --remote",
            hint="e.g. `ci_tools history results/` or `ci_tools history --remote origin`",
        )
    results, records = files.load(args.paths)
    if args.remote is not None:
        branch = store.HistoryBranch(repo=args.repo, remote=args.remote, branch=args.branch)
        records += branch.read()
    runs = [series.Run.of(r) for r in records] + series.runs_of_results(results, repo=args.repo)
    if not runs:
        raise BadInputError("history: no runs found in what was given",
                            hint="give result files written by `ci_tools bench`")  # fmt: skip
    laid_out = series.build(runs)
    min_step = changes.DEFAULT_MIN_STEP if args.min_step is None else args.min_step
    found = changes.steps(laid_out, min_step=min_step)
    print(history.history_text(laid_out, found))
    summary = history.history_markdown(laid_out, found)
    if args.markdown:
        util_files.write_atomic(args.markdown, summary)
    output.append_summary(summary)
    if args.html:
        latest = series.latest(laid_out)
        reference = latest.pop("linux", None)
        table, note = None, ""
        try:
            table = cost.cost_table(reference, list(latest.values())) if latest else None
        except BadInputError as exc:
            note = f"no cost table: {exc.message}"
        generated = f"generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        page = html.report(laid_out, found, cost=table, cost_note=note or "no profile runs",
                           commit_url=html.commit_url_template(args.commit_url),
                           generated=generated)  # fmt: skip
        util_files.write_atomic(args.html, page)
        print(f"\nreport: {args.html}")
    return ExitCode.OK


def _record(args: argparse.Namespace) -> int:
    from ci_tools.history import record, store
    from ci_tools.results import store as results_store

    info = record.commit_info(args.repo, args.commit)
    if info is None:
        raise BadInputError(
            f"commit {args.commit} is not in the repository at {args.repo}",
            hint="record from a clone that has the commit (fetch it first)",
        )
    results = [results_store.load(p) for p in args.files]
    branch = store.HistoryBranch(repo=args.repo, remote=args.remote, branch=args.branch)
    written = branch.record(record.from_results(results, info))
    for path in written:
        print(f"recorded {args.branch}:{path}")
    if not written:
        print(f"already recorded: every run of {info.commit[:12]} is on {args.branch}")
    return ExitCode.OK


def _compact(args: argparse.Namespace) -> int:
    from ci_tools.history import store

    branch = store.HistoryBranch(repo=args.repo, remote=args.remote, branch=args.branch)
    days = store.DEFAULT_KEEP_DAYS if args.keep_days is None else args.keep_days
    before, after = branch.compact(keep_days=days)
    print(f"history compacted: {before} runs -> {after} (every run of the last {days} days kept)")
    return ExitCode.OK
