"""``python -m ci_tools comment``: the PR's one benchmark comment, from a bench-pr
artifact or from a markdown file.

The repository, the pull request and the measured commit are reconciled
here: an artifact names its PR and head commit, and they must agree with
what the workflow says (``--pr``, ``--expect-head-sha``); a markdown file
takes its PR from the command line or the event.  Posting itself, and the
fall-back to the job summary, is ``github.comment.publish_comment``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from ci_tools import output
from ci_tools.errors import BadInputError, CiToolsError
from ci_tools.gate.evaluate import Report, evaluate
from ci_tools.github.api import Client
from ci_tools.github.comment import fit_comment, publish_comment, static_section
from ci_tools.github.event import read_event, run_url
from ci_tools.history.record import Record
from ci_tools.history.store import HistoryBranch
from ci_tools.util import markdown as md


@dataclass(frozen=True, kw_only=True)
class CommentOptions:
    repo: str | None = None  # OWNER/NAME; None: $GITHUB_REPOSITORY
    pr: int | None = None
    body_file: Path | None = None  # markdown to post as it is ...
    bench_dir: Path | None = None  # ... or a bench-pr artifact, compared here
    expect_head_sha: str | None = None
    head_label: str | None = None  # OWNER:BRANCH of a workflow_run's head
    details_url: str | None = None  # None: this workflow run's page
    author: str | None = None  # update only a comment by this login
    history: str | None = None  # a remote with main's history: charts of regressions
    report_url: str | None = None  # main's history report


def post(options: CommentOptions) -> None:
    """Post or update the comment (token: ``$GITHUB_TOKEN``)."""
    repo = options.repo or os.environ.get("GITHUB_REPOSITORY")
    if not repo:
        raise BadInputError("no repository: pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    details = options.details_url or run_url()
    number = options.pr
    unreadable: tuple[str, ...] = ()
    if options.body_file is not None:
        if number is None and options.head_label is None:
            number = read_event().number
        try:
            text = options.body_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadInputError(f"cannot read {options.body_file}: {exc.strerror}") from exc
        body = fit_comment("", [static_section(text)], details_url=details)
    elif options.bench_dir is not None:
        report = _evaluate(options.bench_dir, options)
        if options.expect_head_sha and report.head_sha != options.expect_head_sha:
            raise BadInputError(
                f"{options.bench_dir} holds results for {report.head_sha[:12]}, "
                f"the run was for {options.expect_head_sha[:12]}"
            )
        if number is not None and number != report.pr:
            raise BadInputError(f"--pr {number} but {options.bench_dir} is for PR #{report.pr}")
        number, unreadable = report.pr, report.unreadable
        body = report.comment(details_url=details)
    else:
        raise BadInputError("nothing to post: pass --body-file or --bench-dir")
    client = Client(os.environ.get("GITHUB_TOKEN"))
    published = publish_comment(
        client,
        repo,
        body,
        number=number,
        head_sha=options.expect_head_sha,
        head_label=options.head_label,
        author=options.author,
    )
    if options.bench_dir is not None and unreadable:
        # Posted (the comment says which profiles could not be compared), and
        # the step fails: the artifact held files ci_tools refused to read.
        _refused(options.bench_dir, unreadable, posted=published is not None)


def _evaluate(folder: Path, options: CommentOptions) -> Report:
    """The artifact compared; an artifact that cannot be read at all is said in the
    job summary (no PR comment: its PR number cannot be believed) and exits 3."""
    history: list[Record] = []
    if options.history is not None:
        try:
            history = HistoryBranch(repo=Path(), remote=options.history).read()
        except CiToolsError as exc:
            output.warn(f"history on {options.history} not read, no charts: {exc.message}")
    try:
        return evaluate(folder, history=history, report_url=options.report_url)
    except BadInputError as exc:
        _refused(folder, (exc.message,), posted=False)


def _refused(folder: Path, reasons: tuple[str, ...], *, posted: bool) -> NoReturn:
    items = "\n".join(f"- {md.code(r, limit=500, table=False)}" for r in reasons)
    what = "The comment lists them." if posted else "No comment was posted."
    output.append_summary(
        f"### Benchmark artifact refused\n\n{items}\n\n{what} The artifact came from the pull "
        "request's run; ci_tools reads it as untrusted input.\n"
    )
    raise BadInputError(
        f"{folder}: {len(reasons)} file(s) of the artifact refused: " + "; ".join(reasons),
        hint="the benchmark run wrote no valid artifact (or it was tampered with); re-run it",
    )
