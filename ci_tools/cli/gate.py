"""``bench-pr``, ``comment`` and ``github-event``: a pull request's benchmarks on GitHub."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci_tools.cli.options import Subparsers, positive
from ci_tools.errors import ExitCode


def add_comment(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "comment",
        help="keep one benchmark comment on a pull request up to date (token from $GITHUB_TOKEN)",
    )
    parser.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    parser.add_argument(
        "--pr", type=positive, help="pull request number (default: from --bench-dir or the event)"
    )
    body = parser.add_mutually_exclusive_group(required=True)
    body.add_argument("--body-file", type=Path, help="markdown to post as it is")
    body.add_argument(
        "--bench-dir",
        type=Path,
        help="a bench-pr artifact: its results are validated again and compared here",
    )
    parser.add_argument(
        "--expect-head-sha",
        help="post only if the PR's head is still this commit (workflow_run.head_sha)",
    )
    parser.add_argument(
        "--head-label",
        help="OWNER:BRANCH of the PR's head (workflow_run): find the PR on GitHub by it",
    )
    parser.add_argument("--details-url", help="link to the full tables (the bench job's summary)")
    parser.add_argument(
        "--history", metavar="REMOTE",
        help="with --bench-dir: draw each regressed benchmark over main's runs stored on "
        "REMOTE's history branch, the head's median last",
    )  # fmt: skip
    parser.add_argument("--report-url", help="with --bench-dir: link main's history report")
    parser.add_argument(
        "--author",
        default="github-actions[bot]",
        help="only a comment by this login is updated ('' for any author)",
    )
    parser.set_defaults(func=_comment)


def _comment(args: argparse.Namespace) -> int:
    from ci_tools.gate import comment

    comment.post(
        comment.CommentOptions(
            repo=args.repo,
            pr=args.pr,
            body_file=args.body_file,
            bench_dir=args.bench_dir,
            expect_head_sha=args.expect_head_sha,
            head_label=args.head_label,
            details_url=args.details_url,
            author=args.author or None,
            history=args.history,
            report_url=args.report_url or None,
        )
    )
    return ExitCode.OK


def add_github_event(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "github-event",
        help="print the PR number and base/head commits of $GITHUB_EVENT_PATH as step outputs",
    )
    parser.add_argument("--event-path", type=Path, help="default: $GITHUB_EVENT_PATH")
    parser.add_argument("--event-name", help="default: $GITHUB_EVENT_NAME")
    parser.set_defaults(func=_github_event)


def _github_event(args: argparse.Namespace) -> int:
    from ci_tools.github import event

    found = event.read_event(args.event_path, event_name=args.event_name)
    values = {
        "pr": "" if found.number is None else str(found.number),
        "base-sha": found.base_sha or "",
        "head-sha": found.head_sha,
        "head-repository": found.head_repository or "",
        "from-fork": "true" if found.from_fork else "false",
    }
    for name, value in values.items():
        print(f"{name}={value}")
        event.set_output(name, value)
    return ExitCode.OK


def add_bench_pr(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "bench-pr",
        help="benchmark a PR's merge base and head on this runner, compare, write the artifact",
    )
    parser.add_argument("--base", help="the PR's base commit (default: from the event)")
    parser.add_argument("--head", help="the PR's head commit, checked out here (default: event)")
    parser.add_argument("--pr", type=positive, help="PR number (default: from the event)")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        help="a profile to measure; repeatable (default: every profile of the config)",
    )
    parser.add_argument(
        "--boots",
        type=positive,
        help="boots per profile and side at the first look (default: [gate] min_boots, "
        "else enough for the matrix to reach a verdict)",
    )
    parser.add_argument(
        "--max-boots",
        type=positive,
        help="boots per side at most: undecided rows are measured again up to it "
        "(default: [gate] max_boots, else 24)",
    )
    parser.add_argument(
        "--jobs", "-j", type=positive,
        help="boots at once, over both sides (default: one per CPU)",
    )  # fmt: skip
    parser.add_argument(
        "--shard", metavar="I/N",
        help="measure shard I of N of every side's boots, the whole budget in one look "
        "(one runner of N; `ci_tools merge` joins each side's files)",
    )  # fmt: skip
    parser.add_argument(
        "--history", metavar="REMOTE",
        help="reuse the merge base's runs stored on REMOTE's history branch (`history "
        "record`) when one fresh boot shows the same setup; else measure both sides",
    )  # fmt: skip
    parser.add_argument(
        "--output-dir", type=Path, default=Path("bench-pr"), help="the artifact folder"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the merge base is checked out (default: a temp dir)"
    )
    parser.set_defaults(func=_bench_pr)


def _bench_pr(args: argparse.Namespace) -> int:
    from ci_tools.bench.schedule import Shard
    from ci_tools.gate import measure

    options = measure.main_options(
        base=args.base,
        head=args.head,
        pr=args.pr,
        profiles=args.profile,
        boots=args.boots,
        max_boots=args.max_boots,
        output_dir=args.output_dir,
        work_dir=args.work_dir,
        jobs=args.jobs,
        shard=Shard.parse(args.shard) if args.shard else None,
        history=args.history,
    )
    return measure.run(options)
