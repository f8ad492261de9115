"""GitHub plumbing usable from any workflow step: event payloads, step outputs,
and the one sticky pull-request comment over GitHub's REST API.

Job summaries, ``::group::`` blocks and annotations live in ``ci_tools.output``
(they are how ci_tools prints, not GitHub-only features); this module adds
what only makes sense on GitHub:

- ``read_event``: the PR number and base/head commits from
  ``$GITHUB_EVENT_PATH`` for ``pull_request`` and ``workflow_run`` events;
- ``set_output``: ``$GITHUB_OUTPUT`` in GitHub's multi-line-safe format;
- ``Client``: a small REST client that honours ``$GITHUB_API_URL`` (GitHub
  Enterprise), retries 5xx answers and rate limits with bounded backoff, never
  sends its token to another host and never prints it;
- ``upsert_comment``: find the comment carrying a hidden marker across every
  page of a PR's comments, update it in place, create one only when none
  exists; ``fit_comment`` keeps a body under GitHub's 65,536 characters.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any, Literal

from ci_tools import __version__, output
from ci_tools.errors import BadInputError, CiToolsError, ExitCode

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
# GitHub rejects an issue comment body longer than this many characters.
COMMENT_LIMIT = 65_536
MARKER = "<!-- ci_tools:benchmark-comment -->"
_SHA = re.compile(r"^[0-9a-f]{40}$")
_REPO = re.compile(r"^[A-Za-z0-9_-]+/(?!\.+$)[A-Za-z0-9_.-]+$")


# --------------------------------------------------------------------------
# Errors


class GitHubError(CiToolsError):
    """The GitHub API failed, or kept failing after the retries."""

    exit_code = ExitCode.GITHUB_API

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class PermissionDenied(GitHubError):
    """No token, or a token that may not do this (401, or 403 that is not a rate limit)."""


# --------------------------------------------------------------------------
# Event payload


@dataclass(frozen=True, kw_only=True)
class PullRequestEvent:
    """What a workflow needs to know about the pull request it runs for.

    ``number`` is None for a ``workflow_run`` event of a fork's pull request:
    GitHub leaves ``workflow_run.pull_requests`` empty then, so the number must
    come from the measuring run's artifact (and be checked against the PR's
    head commit before anything is written to it).
    """

    event_name: str
    repository: str  # owner/name of the repository the workflow runs in
    number: int | None
    head_sha: str
    base_sha: str | None
    head_repository: str | None  # owner/name the head commit comes from

    @property
    def from_fork(self) -> bool:
        return self.head_repository is not None and self.head_repository != self.repository


def _get(data: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and len(data) > key else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data


def read_event(path: Path | None = None, *, event_name: str | None = None) -> PullRequestEvent:
    """Parse ``$GITHUB_EVENT_PATH`` (or ``path``) for ``$GITHUB_EVENT_NAME``."""
    name = event_name or os.environ.get("GITHUB_EVENT_NAME", "")
    if path is None:
        env_path = os.environ.get("GITHUB_EVENT_PATH")
        if not env_path:
            raise BadInputError(
                "GITHUB_EVENT_PATH is not set: not running in GitHub Actions",
                hint="pass the pull request number and commits explicitly",
            )
        path = Path(env_path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"cannot read the event payload {path}: {exc}") from exc
    repository = _get(payload, "repository", "full_name")
    if name in ("pull_request", "pull_request_target"):
        pr = _get(payload, "pull_request")
        number = _get(pr, "number")
        head = _get(pr, "head", "sha")
        base = _get(pr, "base", "sha")
        head_repo = _get(pr, "head", "repo", "full_name")
    elif name == "workflow_run":
        run = _get(payload, "workflow_run")
        head = _get(run, "head_sha")
        head_repo = _get(run, "head_repository", "full_name")
        number = _get(run, "pull_requests", 0, "number")
        base = _get(run, "pull_requests", 0, "base", "sha")
    else:
        raise BadInputError(
            f"event {name or '(unset)'!r} is not a pull_request or workflow_run event",
            hint="run this step on: pull_request, or on: workflow_run",
        )
    if not isinstance(repository, str) or not isinstance(head, str):
        raise BadInputError(
            f"{path}: not a {name} event payload (repository or head commit missing)"
        )
    if number is not None and (not isinstance(number, int) or isinstance(number, bool)):
        raise BadInputError(f"{path}: pull request number {number!r} is not an integer")
    return PullRequestEvent(
        event_name=name,
        repository=repository,
        number=number,
        head_sha=head,
        base_sha=base if isinstance(base, str) else None,
        head_repository=head_repo if isinstance(head_repo, str) else None,
    )


# --------------------------------------------------------------------------
# Step outputs


def set_output(name: str, value: str) -> bool:
    """Write ``name`` to ``$GITHUB_OUTPUT``; returns False when not in Actions.

    Uses GitHub's heredoc form with a random delimiter, so a value with
    newlines (or one that looks like ``other=...``) cannot inject outputs.
    """
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", name):
        raise ValueError(f"invalid output name {name!r}")
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return False
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    if delimiter in value:  # pragma: no cover - a random UUID
        raise ValueError("output value contains the delimiter")
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
    return True


def run_url() -> str | None:
    """The web page of the current workflow run, whose job summaries hold the full tables."""
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    if not (server and repo and run_id):
        return None
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"


# --------------------------------------------------------------------------
# REST client


@dataclass(frozen=True)
class Response:
    status: int
    headers: Message
    data: Any
    url: str


def _header_int(headers: Message, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def next_link(headers: Message) -> str | None:
    """The ``rel="next"`` URL of a paginated answer's ``Link`` header."""
    for part in (headers.get("Link") or "").split(","):
        match = re.match(r"\s*<([^>]+)>\s*;(.*)$", part)
        if match and re.search(r'\brel="?next"?', match.group(2)):
            return match.group(1)
    return None


class Client:
    """GitHub's REST API with the token in one place and bounded retries.

    ``sleep`` and ``clock`` are injectable so tests never wait for real.
    """

    def __init__(
        self,
        token: str | None,
        *,
        api_url: str | None = None,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 90.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._token = token or None
        self.api_url = (api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.timeout = timeout
        self._sleep = sleep
        self._clock = clock
        # A handler without redirects: a 3xx is an answer, never a hop that
        # could carry the Authorization header to another host.
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return f"Client(api_url={self.api_url!r}, token={'set' if self._token else 'none'})"

    @property
    def has_token(self) -> bool:
        return self._token is not None

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not path_or_url.startswith(self.api_url + "/"):
                raise GitHubError(
                    f"refusing to follow a link outside {self.api_url}: {path_or_url}"
                )
            return path_or_url
        return self.api_url + "/" + path_or_url.lstrip("/")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
        before_retry: Callable[[], Response | None] | None = None,
    ) -> Response:
        """One API call, retried on 5xx, rate limits and connection failures.

        ``before_retry`` runs before each retry; a response it returns ends the
        call (a POST is not idempotent: it can look whether the failed attempt
        took effect after all, rather than post twice).
        """
        url = self._url(path_or_url)
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        shown = f"{method} {urllib.parse.urlsplit(url).path}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = self._send(method, url, data)
            except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                wait = self._backoff(attempt)
                problem = f"{shown}: connection failed ({reason})"
                status = None
            else:
                if 300 <= response.status < 400 and response.headers.get("Location"):
                    # GitHub answers 301/307 for renamed repositories; follow it
                    # only within the API (``_url`` refuses anything else).
                    url = self._url(urllib.parse.urljoin(url, response.headers["Location"]))
                    shown = f"{method} {urllib.parse.urlsplit(url).path}"
                    continue
                if response.status < 400:
                    return response
                delay = self._retry_delay(response, attempt)
                problem = f"{shown}: HTTP {response.status} {_message(response)}"
                if delay is None:
                    raise _error_for(response, problem)
                wait, status = delay, response.status
            if attempt == self.max_attempts:
                raise GitHubError(
                    f"{problem}; gave up after {attempt} attempts",
                    status=status,
                    hint="GitHub may be having an outage; re-run the job later",
                )
            if wait > self.max_delay:
                raise GitHubError(
                    f"{problem}; GitHub asks to wait {wait:.0f} s, more than the "
                    f"{self.max_delay:.0f} s allowed",
                    status=status,
                    hint="the token's rate limit is used up; re-run the job after it resets",
                )
            output.info(
                f"{problem}; retrying in {wait:.1f} s (attempt {attempt}/{self.max_attempts})"
            )
            self._sleep(wait)
            if before_retry is not None:
                settled = before_retry()
                if settled is not None:
                    return settled
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, url: str, data: bytes | None) -> Response:
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", f"ci_tools/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self._token:
            request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(request, timeout=self.timeout) as raw:
                return _response(raw.status, raw.headers, raw.read(), url)
        except urllib.error.HTTPError as exc:
            with exc:
                return _response(exc.code, exc.headers, exc.read(), url)

    def _backoff(self, attempt: int) -> float:
        return float(self.base_delay * 2 ** (attempt - 1))

    def _retry_delay(self, response: Response, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None when retrying cannot help.

        GitHub's documented rules: a ``retry-after`` header wins; a primary
        limit (``x-ratelimit-remaining: 0``) lasts until ``x-ratelimit-reset``;
        another secondary limit waits at least a minute, growing; 5xx backs off.
        """
        status, headers = response.status, response.headers
        if status >= 500:
            return max(self._backoff(attempt), float(_header_int(headers, "retry-after") or 0))
        if status not in (403, 429):
            return None
        retry_after = _header_int(headers, "retry-after")
        if retry_after is not None:
            return float(max(retry_after, 0))
        if headers.get("x-ratelimit-remaining") == "0":
            reset = _header_int(headers, "x-ratelimit-reset")
            return max((reset or 0) - self._clock(), 0.0) + 1.0
        if status == 429 or "rate limit" in _message(response).lower():
            return max(60.0, self._backoff(attempt))
        return None

    def paginate(self, path: str, *, per_page: int = 100) -> Iterator[Any]:
        """Every item of a list endpoint, following ``Link: rel="next"``."""
        url: str | None = path
        params: Mapping[str, str | int] | None = {"per_page": per_page}
        while url is not None:
            response = self.request("GET", url, params=params)
            if not isinstance(response.data, list):
                raise GitHubError(
                    f"GET {path}: expected a list, got {type(response.data).__name__}"
                )
            yield from response.data
            url, params = next_link(response.headers), None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _response(status: int, headers: Message, raw: bytes, url: str) -> Response:
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw.decode("utf-8", "replace")
    return Response(status, headers, data, url)


def _message(response: Response) -> str:
    data = response.data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:300]
    return str(data)[:300] if data else ""


def _error_for(response: Response, problem: str) -> GitHubError:
    if response.status in (401, 403):
        return PermissionDenied(
            problem,
            status=response.status,
            hint="give the job a token that may write to pull requests "
            "(permissions: pull-requests: write); fork PRs only get one in workflow_run",
        )
    return GitHubError(problem, status=response.status)


# --------------------------------------------------------------------------
# The sticky comment


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
        login = _get(comment, "user", "login")
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
    actual = _get(pr, "head", "sha")
    if actual != head_sha:
        return f"PR #{number} is now at {str(actual)[:12]}, these results are for {head_sha[:12]}"
    if _get(pr, "state") != "open":
        return f"PR #{number} is {_get(pr, 'state')}"
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
        if _get(pr, "head", "sha") == head_sha and isinstance(pr.get("number"), int)
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
                skip(
                    f"no open PR has head {head_label} at {head_sha[:12]} (closed, or pushed since)"
                )
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
