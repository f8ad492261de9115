"""A real HTTP server on 127.0.0.1 that speaks the part of GitHub's REST API
ci_tools uses, as documented at docs.github.com/rest (API version 2022-11-28):

- ``GET  /repos/{owner}/{repo}/issues/{number}/comments`` with ``per_page``
  (default 30, at most 100) and ``page``, and a ``Link`` header carrying
  ``rel="next"``, ``"last"``, ``"first"`` and ``"prev"`` as absolute URLs;
- ``POST /repos/{owner}/{repo}/issues/{number}/comments`` -> 201;
- ``PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}`` -> 200;
- ``GET  /repos/{owner}/{repo}/pulls/{number}``;
- a body over 65,536 characters is refused with 422, as GitHub does.

Every request is recorded.  Faults (502, 403, 429 with ``retry-after``, a
primary rate limit with ``x-ratelimit-remaining: 0``) are queued per test
with ``fail``; an optional ``prefix`` serves the API under ``/api/v3`` as
GitHub Enterprise Server does.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT = "github-actions[bot]"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    times: int
    applied: bool = False  # the request takes effect, then the client sees the fault


@dataclass
class FakeGitHub:
    token: str = "ghs_test_token_0123456789abcdefABCDEF"
    prefix: str = ""
    login: str = BOT
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    port: int = 0
    _next_id: int = 1000
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    # -- set-up helpers ------------------------------------------------------

    def add_comment(self, repo: str, number: int, body: str, *, login: str = "someone") -> int:
        with self._lock:
            self._next_id += 1
            comment = self._comment(repo, self._next_id, body, login)
            self.comments.setdefault((repo, number), []).append(comment)
            return self._next_id

    def add_pull(
        self,
        repo: str,
        number: int,
        *,
        head_sha: str,
        state: str = "open",
        head_label: str = "someone:feature",
    ) -> None:
        self.pulls[(repo, number)] = {
            "number": number,
            "state": state,
            "head": {"sha": head_sha, "ref": head_label.split(":", 1)[1], "label": head_label},
            "base": {"sha": "b" * 40, "ref": "main"},
        }

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        times: int = 1,
        applied: bool = False,
    ) -> None:
        """The next ``times`` requests matching ``method`` and regex ``path`` get ``status``.

        ``applied``: the request still takes effect (a gateway timeout after the
        write landed), as GitHub may do under load."""
        default = {
            "message": f"fault {status}",
            "documentation_url": "https://docs.github.com/rest",
        }
        self.faults.append(
            Fault(method, re.compile(path), status, headers or {}, body or default, times, applied)
        )

    def requests_for(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    def bodies(self, repo: str, number: int) -> list[str]:
        return [c["body"] for c in self.comments.get((repo, number), [])]

    # -- internals -----------------------------------------------------------

    def _comment(self, repo: str, cid: int, body: str, login: str) -> dict[str, Any]:
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{repo}/issues/comments/{cid}",
            "html_url": f"https://github.com/{repo}/pull/1#issuecomment-{cid}",
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "created_at": "2026-11-26T12:00:00Z",
            "updated_at": "2026-11-26T12:00:00Z",
            "author_association": "NONE",
        }

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.times > 0 and fault.path.search(path):
                    fault.times -= 1
                    return fault
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    _masked_by: Fault | None = None

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        if self._masked_by is not None:  # an applied fault: the work is done, the answer lies
            status, data, headers = (
                self._masked_by.status,
                self._masked_by.body,
                self._masked_by.headers,
            )
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _handle(self, method: str) -> None:
        fake = self.server.fake
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        fake.requests.append(
            Recorded(
                method, split.path, query, {k.lower(): v for k, v in self.headers.items()}, body
            )
        )
        if not split.path.startswith(fake.prefix + "/"):
            return self._send(404, {"message": "Not Found"})
        path = split.path[len(fake.prefix) :]
        if self.headers.get("Authorization") != f"Bearer {fake.token}":
            return self._send(401, {"message": "Bad credentials"})
        fault = fake.take_fault(method, path)
        if fault is not None and not fault.applied:
            return self._send(fault.status, fault.body, fault.headers)
        self._masked_by = fault
        routes = [
            ("GET", r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$", self._list),
            ("POST", r"^/repos/([^/]+/[^/]+)/issues/(\d+)/comments$", self._create),
            ("PATCH", r"^/repos/([^/]+/[^/]+)/issues/comments/(\d+)$", self._update),
            ("GET", r"^/repos/([^/]+/[^/]+)/pulls/(\d+)$", self._pull),
        ]
        match = re.match(r"^/repos/([^/]+/[^/]+)/pulls$", path)
        if method == "GET" and match:
            return self._pulls(match.group(1), query)
        for verb, pattern, handler in routes:
            match = re.match(pattern, path)
            if verb == method and match:
                return handler(match.group(1), int(match.group(2)), query, body)
        return self._send(404, {"message": "Not Found"})

    def _list(self, repo: str, number: int, query: dict[str, str], body: Any) -> None:
        fake = self.server.fake
        per_page = min(int(query.get("per_page", 30)), 100)
        page = int(query.get("page", 1))
        items = fake.comments.get((repo, number), [])
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        base = f"http://127.0.0.1:{fake.port}{fake.prefix}/repos/{repo}/issues/{number}/comments"

        def link(p: int, rel: str) -> str:
            return f'<{base}?per_page={per_page}&page={p}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        self._send(200, chunk, {"Link": ", ".join(links)} if links else None)

    def _too_long(self, body: Any) -> bool:
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str):
            self._send(422, {"message": "Validation Failed"})
            return True
        if len(text) > 65_536:
            self._send(
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "IssueComment", "code": "unprocessable",
                                "field": "data",
                                "message": "Body is too long (maximum is 65536 characters)"}],
                },
            )  # fmt: skip
            return True
        return False

    def _create(self, repo: str, number: int, query: dict[str, str], body: Any) -> None:
        fake = self.server.fake
        if self._too_long(body):
            return
        cid = fake.add_comment(repo, number, body["body"], login=fake.login)
        self._send(201, fake.comments[(repo, number)][-1], {"Location": f"/comments/{cid}"})

    def _update(self, repo: str, cid: int, query: dict[str, str], body: Any) -> None:
        fake = self.server.fake
        if self._too_long(body):
            return
        for (comment_repo, _), comments in fake.comments.items():
            for comment in comments:
                if comment_repo == repo and comment["id"] == cid:
                    comment["body"] = body["body"]
                    comment["updated_at"] = "2026-11-26T13:00:00Z"
                    return self._send(200, comment)
        self._send(404, {"message": "Not Found"})

    def _pulls(self, repo: str, query: dict[str, str]) -> None:
        """GET /repos/{owner}/{repo}/pulls: ``state`` (default open), ``head`` (user:ref)."""
        state = query.get("state", "open")
        found = [
            pull
            for (pull_repo, _), pull in sorted(self.server.fake.pulls.items())
            if pull_repo == repo
            and (state == "all" or pull["state"] == state)
            and ("head" not in query or pull["head"]["label"] == query["head"])
        ]
        self._send(200, found)

    def _pull(self, repo: str, number: int, query: dict[str, str], body: Any) -> None:
        pull = self.server.fake.pulls.get((repo, number))
        if pull is None:
            return self._send(404, {"message": "Not Found"})
        self._send(200, pull)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGitHub


@contextmanager
def serve(fake: FakeGitHub | None = None) -> Iterator[FakeGitHub]:
    fake = fake or FakeGitHub()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = fake
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
