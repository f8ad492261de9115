"""The one sticky pull-request comment: found by its marker, kept under GitHub's limit.

``upsert_comment`` finds the comment carrying a hidden marker across every
page of a PR's comments, updates it in place and creates one only when none
exists; ``fit_comment`` keeps a body under GitHub's 65,536 characters,
trimming each section's least interesting rows first; ``publish_comment``
checks the PR is still at the measured commit and falls back to the job
summary when it may not write.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ci_tools import output
from ci_tools.errors import BadInputError
from ci_tools.github.api import Client, GitHubError, PermissionDenied, Response, dig
from ci_tools.github.event import set_output
from ci_tools.util import markdown as md

# GitHub rejects an issue comment body longer than this many characters.
COMMENT_LIMIT = 65_536
MARKER = "<!-- ci_tools:benchmark-comment -->"
_REPO = re.compile(r"^[A-Za-z0-9_-]+/(?!\.+$)[A-Za-z0-9_.-]+$")


@dataclass(frozen=True, kw_only=True)
class CommentResult:
    action: Literal["created", "updated", "unchanged"]
    comment_id: int
    url: str | None
    duplicates: tuple[int, ...] = ()


def _check_repo(repo: str) -> None:
    if not _REPO.match(repo):
        raise BadInputError(f"repository {repo!r} is not of the form OWNER/NAME")


def find_comment(
    client: Client, repo: str, number: int, *, marker: str = MARKER, author: str | None = None
) -> list[dict[str, Any]]:
    """Every comment on the PR whose body starts with ``marker``, oldest first.

    ``author`` (a login such as ``github-actions[bot]``) ignores look-alikes
    that someone else posted with the marker in them.
    """
    _check_repo(repo)
    found = []
    for comment in client.paginate(f"/repos/{repo}/issues/{number}/comments"):
        body = comment.get("body") or ""
        login = dig(comment, "user", "login")
        if body.lstrip().startswith(marker) and (author is None or login == author):
            found.append(comment)
    return found


def upsert_comment(
    client: Client,
    repo: str,
    number: int,
    body: str,
    *,
    marker: str = MARKER,
    author: str | None = None,
) -> CommentResult:
    """Keep exactly one marked comment on the PR, holding ``body``."""
    if not body.startswith(marker):
        body = f"{marker}\n{body}"
    if len(body) > COMMENT_LIMIT:
        raise BadInputError(
            f"comment body has {len(body):,} characters, GitHub allows {COMMENT_LIMIT:,}",
            hint="pass it through github.fit_comment first",
        )
    existing = find_comment(client, repo, number, marker=marker, author=author)
    if existing:
        first, *rest = existing
        duplicates = tuple(int(c["id"]) for c in rest)
        if duplicates:
            output.warn(
                f"PR #{number} has {len(existing)} ci_tools comments; updating the oldest "
                f"({first['id']}), leaving {', '.join(map(str, duplicates))}"
            )
        if first.get("body") == body:
            return CommentResult(
                action="unchanged", comment_id=int(first["id"]), url=first.get("html_url"),
                duplicates=duplicates,
            )  # fmt: skip
        response = client.request(
            "PATCH", f"/repos/{repo}/issues/comments/{int(first['id'])}", body={"body": body}
        )
        action: Literal["created", "updated"] = "updated"
    else:

        def created_after_all() -> Response | None:
            # A 5xx or a dropped connection may come after GitHub stored the
            # comment: look for it before posting a second one.
            again = find_comment(client, repo, number, marker=marker, author=author)
            if not again:
                return None
            return client.request(
                "PATCH", f"/repos/{repo}/issues/comments/{int(again[0]['id'])}", body={"body": body}
            )

        response = client.request(
            "POST",
            f"/repos/{repo}/issues/{number}/comments",
            body={"body": body},
            before_retry=created_after_all,
        )
        action, duplicates = "created", ()
    data = response.data if isinstance(response.data, dict) else {}
    return CommentResult(
        action=action,
        comment_id=int(data.get("id", 0)),
        url=data.get("html_url"),
        duplicates=duplicates,
    )


def check_pr_head(client: Client, repo: str, number: int, head_sha: str) -> str | None:
    """None when PR ``number`` is open at ``head_sha``, else why not.

    The comment workflow takes the PR number from an artifact a fork's code
    wrote; this ties it to the commit GitHub itself says was measured.
    """
    _check_repo(repo)
    pr = client.request("GET", f"/repos/{repo}/pulls/{number}").data
    actual = dig(pr, "head", "sha")
    if actual != head_sha:
        return f"PR #{number} is now at {str(actual)[:12]}, these results are for {head_sha[:12]}"
    if dig(pr, "state") != "open":
        return f"PR #{number} is {dig(pr, 'state')}"
    return None


def truncate_markdown(text: str, max_chars: int) -> str:
    """Cut ``text`` at a line boundary to at most ``max_chars`` characters."""
    if len(text) <= max_chars:
        return text
    note = "\n\n*… cut to fit GitHub's comment limit*\n"
    keep = text[: max(max_chars - len(note), 0)]
    if "\n" in keep:
        keep = keep[: keep.rindex("\n")]
    return (keep + note)[:max_chars]


Renderer = Callable[[int | None], str]


def static_section(text: str) -> Renderer:
    """A section that is already markdown: trimmed only by cutting lines off the end."""

    def render(max_chars: int | None) -> str:
        return text if max_chars is None else truncate_markdown(text, max_chars)

    return render


def fit_sections(renderers: Sequence[Renderer], budget: int) -> tuple[list[str], bool]:
    """Render every section in full, or within shares of ``budget`` if too long.

    Each renderer takes ``max_chars`` (None: everything) and trims its own
    least interesting rows first (``tables.comparison_markdown`` drops unchanged
    benchmarks).  Sections that fit in full leave their unused share to the
    others.  Returns the texts and whether anything was trimmed.
    """
    full = [render(None) for render in renderers]
    if sum(map(len, full)) <= budget:
        return full, False
    texts = list(full)
    pending = sorted(range(len(full)), key=lambda i: len(full[i]))
    left = budget
    while pending:
        share = left // len(pending)
        index = pending.pop(0)
        if len(full[index]) <= share:
            texts[index] = full[index]
        else:
            text = renderers[index](share)
            texts[index] = truncate_markdown(text, share) if len(text) > share else text
        left -= len(texts[index])
    return texts, True


def fit_comment(
    header: str,
    renderers: Sequence[Renderer],
    *,
    details_url: str | None,
    marker: str = MARKER,
    limit: int = COMMENT_LIMIT,
) -> str:
    """``marker`` + ``header`` + the sections, under ``limit`` characters.

    When sections had to be trimmed, a footer says so and links
    ``details_url`` (the job summary with every row).
    """
    link = f"[the job summary]({details_url})" if details_url else "the benchmark job's summary"
    trimmed_note = (
        f"\n---\nSome rows were left out to fit GitHub's comment limit; all are in {link}.\n"
    )
    plain_note = f"\n---\nFull results: {link}.\n" if details_url else ""
    head = f"{marker}\n{header.rstrip()}\n\n" if header.strip() else f"{marker}\n\n"
    fixed = len(head) + max(len(trimmed_note), len(plain_note)) + 64  # 64: joins, safety
    texts, trimmed = fit_sections(renderers, max(limit - fixed, 0))
    body = (
        head
        + "\n\n".join(t.rstrip() for t in texts)
        + "\n"
        + (trimmed_note if trimmed else plain_note)
    )
    return truncate_markdown(body, limit)


def find_pull_request(client: Client, repo: str, head_label: str, head_sha: str) -> int | None:
    """The open PR of ``repo`` whose head is ``head_label`` (OWNER:BRANCH) at ``head_sha``.

    ``workflow_run.pull_requests`` is empty for forks; this asks GitHub
    instead of believing a number the measured code wrote into its artifact.
    """
    _check_repo(repo)
    response = client.request(
        "GET", f"/repos/{repo}/pulls", params={"head": head_label, "state": "open", "per_page": 100}
    )
    matches = [
        pr["number"]
        for pr in (response.data if isinstance(response.data, list) else [])
        if dig(pr, "head", "sha") == head_sha and isinstance(pr.get("number"), int)
    ]
    return matches[0] if len(matches) == 1 else None


def publish_comment(
    client: Client,
    repo: str,
    body: str,
    *,
    number: int | None = None,
    head_sha: str | None = None,
    head_label: str | None = None,
    author: str | None = None,
    marker: str = MARKER,
) -> CommentResult | None:
    """Post or update the sticky comment; fall back to the job summary.

    The PR is ``number``; with ``head_sha`` it must still be open at that
    commit.  With ``head_label`` (OWNER:BRANCH of a ``workflow_run`` event)
    the PR is looked up on GitHub, and a ``number`` taken from an artifact
    must agree with it.

    Returns None when nothing was posted: no token, a token that may not
    write (a fork's PR outside ``workflow_run``), or results that are no
    longer for the PR's head.  Those cases say so in the job summary and a
    warning, and do not fail the step.  A GitHub outage that outlasts the
    retries writes the same summary, then raises ``GitHubError``.
    """
    table = body.removeprefix(marker).lstrip("\n")
    where = f"PR #{number}" if number is not None else f"the PR of {head_label}"
    # A fork names its branch: in the summary it is inline code, where nothing links.
    label = md.code(head_label or "", limit=300, table=False)

    def fallback(reason: str) -> None:
        output.warn(f"benchmark comment not posted on {where}: {reason}")
        output.append_summary(f"### Benchmark comment not posted\n\n{reason}\n\n{table}")

    def skip(reason: str) -> None:
        output.info(f"not commenting: {reason}")
        output.append_summary(f"Benchmark comment not updated: {reason}.\n")

    if not client.has_token:
        fallback("no GitHub token was given (set GITHUB_TOKEN for this step)")
        return None
    try:
        if head_label is not None:
            if head_sha is None:
                raise BadInputError("looking a PR up by its head needs the head commit too")
            found = find_pull_request(client, repo, head_label, head_sha)
            if found is None:
                skip(f"no open PR has head {label} at `{head_sha[:12]}` (closed, or pushed since)")
                return None
            if number is not None and number != found:
                raise BadInputError(
                    f"the results name PR #{number}, but {head_sha[:12]} is PR #{found}",
                    hint="the artifact was not written by this repository's bench workflow",
                )
            number = found
        elif number is not None and head_sha is not None:
            stale = check_pr_head(client, repo, number, head_sha)
            if stale is not None:
                skip(stale)
                return None
        if number is None:
            raise BadInputError("no pull request number: pass --pr N")
        result = upsert_comment(client, repo, number, body, marker=marker, author=author)
    except PermissionDenied as exc:
        fallback(f"the token may not write to this pull request ({exc.message})")
        return None
    except GitHubError as exc:
        fallback(f"the GitHub API failed: {exc.message}")
        raise
    output.info(f"{result.action} comment {result.comment_id} on {repo}#{number}: {result.url}")
    set_output("comment-id", str(result.comment_id))
    set_output("comment-url", result.url or "")
    return result
