"""GitHub's REST API: a small client with the token in one place.

It honours ``$GITHUB_API_URL`` (GitHub Enterprise), retries 5xx answers and
rate limits with bounded backoff, never sends its token to another host and
never prints it.
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any

from ci_tools import __version__, output
from ci_tools.errors import CiToolsError, ExitCode

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"


class GitHubError(CiToolsError):
    """The GitHub API failed, or kept failing after the retries."""

    exit_code = ExitCode.GITHUB_API

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.status = status


class PermissionDenied(GitHubError):
    """No token, or a token that may not do this (401, or 403 that is not a rate limit)."""


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


def dig(data: Any, *keys: str | int) -> Any:
    """``data[k1][k2]...`` of a JSON answer, or None where it has no such path."""
    for key in keys:
        if isinstance(key, int):
            data = data[key] if isinstance(data, list) and len(data) > key else None
        else:
            data = data.get(key) if isinstance(data, dict) else None
    return data
