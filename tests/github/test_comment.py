"""The sticky comment against a real local HTTP server speaking GitHub's REST API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from github_fake import BOT, FakeGitHub, serve

from ci_tools import cli
from ci_tools.errors import BadInputError, ExitCode
from ci_tools.github import api, comment

REPO = "levkropp/kevlar"
PR = 42
HEAD = "4e1c0a9b7d2f3e5a6b8c9d0e1f2a3b4c5d6e7f80"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve() as server:
        yield server


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake: FakeGitHub, sleeps: Sleeps) -> api.Client:
    return api.Client(fake.token, api_url=fake.url, sleep=sleeps, clock=lambda: 1_800_000_000.0)


@pytest.fixture
def actions_env(fake: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment a workflow step has; returns the job summary file."""
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_RUN_ID", "11900000123")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    return summary


def _table(title: str, rows: int = 3) -> str:
    lines = [f"## {title}", "", "| benchmark | verdict |", "|---|---|"]
    lines += [f"| bench_{i} | no change |" for i in range(rows)]
    return "\n".join(lines) + "\n"


def _comment_cli(tmp_path: Path, body: str, *extra: str) -> int:
    path = tmp_path / "body.md"
    path.write_text(body)
    return cli.main(["comment", "--pr", str(PR), "--body-file", str(path), *extra])


# -- acceptance: twice through the command line -> one comment, new table ------------


def test_first_run_creates_second_run_updates_the_same_comment(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path
) -> None:
    fake.add_comment(REPO, PR, "LGTM")
    assert _comment_cli(tmp_path, _table("first table")) == ExitCode.OK
    assert len(fake.requests_for("POST")) == 1
    assert _comment_cli(tmp_path, _table("second table")) == ExitCode.OK
    assert len(fake.requests_for("POST")) == 1
    assert len(fake.requests_for("PATCH")) == 1

    bodies = fake.bodies(REPO, PR)
    ours = [b for b in bodies if comment.MARKER in b]
    assert len(ours) == 1
    assert "second table" in ours[0] and "first table" not in ours[0]
    assert ours[0].startswith(comment.MARKER)
    assert "https://github.com/levkropp/kevlar/actions/runs/11900000123" in ours[0]
    assert bodies[0] == "LGTM"


def test_an_unchanged_body_is_not_written_again(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path
) -> None:
    assert _comment_cli(tmp_path, _table("same")) == ExitCode.OK
    assert _comment_cli(tmp_path, _table("same")) == ExitCode.OK
    assert len(fake.requests_for("POST")) == 1
    assert fake.requests_for("PATCH") == []


# -- finding the marker --------------------------------------------------------------


def test_the_marker_is_found_on_page_3(fake: FakeGitHub, client: api.Client) -> None:
    for i in range(250):
        if i == 230:
            ours = fake.add_comment(REPO, PR, f"{comment.MARKER}\nold table", login=BOT)
        else:
            fake.add_comment(REPO, PR, f"comment {i}")
    result = comment.upsert_comment(client, REPO, PR, "new table", author=BOT)
    assert (result.action, result.comment_id) == ("updated", ours)
    pages = [r.query.get("page", "1") for r in fake.requests_for("GET")]
    assert pages == ["1", "2", "3"]
    assert all(r.query["per_page"] == "100" for r in fake.requests_for("GET"))
    assert fake.requests_for("POST") == []
    assert fake.bodies(REPO, PR)[230] == f"{comment.MARKER}\nnew table"


def test_a_look_alike_by_someone_else_is_not_taken(fake: FakeGitHub, client: api.Client) -> None:
    fake.add_comment(REPO, PR, f"{comment.MARKER}\nquoted by a user", login="mallory")
    result = comment.upsert_comment(client, REPO, PR, "table", author=BOT)
    assert result.action == "created"
    assert fake.bodies(REPO, PR)[0].endswith("quoted by a user")


def test_our_own_comment_quoting_the_marker_is_not_the_sticky_one(
    fake: FakeGitHub, client: api.Client
) -> None:
    # The bot's other comments may quote the marker (in a code span, say): only a body
    # that starts with it is the sticky comment.
    fake.add_comment(REPO, PR, f"the comment is found by `{comment.MARKER}`", login=BOT)
    ours = fake.add_comment(REPO, PR, f"\n{comment.MARKER}\nold table", login=BOT)
    assert [c["id"] for c in comment.find_comment(client, REPO, PR, author=BOT)] == [ours]
    result = comment.upsert_comment(client, REPO, PR, "table", author=BOT)
    assert (result.action, result.comment_id, result.duplicates) == ("updated", ours, ())
    assert fake.bodies(REPO, PR)[0] == f"the comment is found by `{comment.MARKER}`"


def test_duplicates_update_the_oldest(fake: FakeGitHub, client: api.Client) -> None:
    first = fake.add_comment(REPO, PR, f"{comment.MARKER}\na", login=BOT)
    second = fake.add_comment(REPO, PR, f"{comment.MARKER}\nb", login=BOT)
    result = comment.upsert_comment(client, REPO, PR, "c", author=BOT)
    assert (result.comment_id, result.duplicates) == (first, (second,))


# -- size ----------------------------------------------------------------------------


def _matrix_renderer(regressions: int, unchanged: int) -> comment.Renderer:
    """Renders like tables.comparison_markdown: unchanged rows are trimmed first."""
    bad = [f"| slow_{i} | regression | +{i}.0% |" for i in range(regressions)]
    same = [f"| bench_{i:05d} | no change | +0.0% |" for i in range(unchanged)]

    def render(max_chars: int | None) -> str:
        head = "| benchmark | verdict | change |\n|---|---|---|\n"
        rows = bad + same
        text = head + "\n".join(rows) + "\n"
        if max_chars is None or len(text) <= max_chars:
            return text
        kept = list(bad)
        for row in same:
            note = f"\n*{len(same) - (len(kept) - len(bad)) - 1} unchanged rows not shown*\n"
            if len(head) + sum(len(r) + 1 for r in kept) + len(row) + 1 + len(note) > max_chars:
                break
            kept.append(row)
        left_out = len(bad) + len(same) - len(kept)
        return head + "\n".join(kept) + f"\n\n*{left_out} unchanged rows not shown*\n"

    return render


def test_an_oversized_table_is_trimmed_unchanged_rows_first(
    fake: FakeGitHub, client: api.Client
) -> None:
    render = _matrix_renderer(regressions=5, unchanged=5000)
    assert len(render(None)) > comment.COMMENT_LIMIT
    url = "https://github.com/levkropp/kevlar/actions/runs/1"
    body = comment.fit_comment("## Benchmarks: **regression**", [render], details_url=url)
    assert len(body) <= comment.COMMENT_LIMIT
    assert all(f"| slow_{i} | regression" in body for i in range(5))
    assert "unchanged rows not shown" in body
    assert f"all are in [the job summary]({url})" in body
    comment.upsert_comment(client, REPO, PR, body)
    assert fake.bodies(REPO, PR) == [body]  # the server (like GitHub) refuses > 65,536


def test_sections_that_fit_leave_room_to_the_others() -> None:
    small = comment.static_section("small section\n")
    big = _matrix_renderer(regressions=1, unchanged=1000)
    texts, trimmed = comment.fit_sections([small, big], 5000)
    assert trimmed
    assert texts[0] == "small section\n"
    assert len(texts[0]) + len(texts[1]) <= 5000
    assert len(texts[1]) > 4000


def test_a_body_that_fits_is_left_alone() -> None:
    body = comment.fit_comment("head", [comment.static_section("table\n")], details_url=None)
    assert body == f"{comment.MARKER}\nhead\n\ntable\n"


def test_an_oversized_body_file_is_cut_at_a_line(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path
) -> None:
    assert _comment_cli(tmp_path, _table("huge", rows=5000)) == ExitCode.OK
    (body,) = fake.bodies(REPO, PR)
    assert len(body) <= comment.COMMENT_LIMIT
    assert "cut to fit GitHub's comment limit" in body
    assert "| bench_4999 |" not in body


def test_upsert_refuses_a_body_over_the_limit(client: api.Client) -> None:
    with pytest.raises(BadInputError, match="65,536"):
        comment.upsert_comment(client, REPO, PR, "x" * 70_000)


# -- retries, rate limits, permissions ------------------------------------------------


def test_a_502_is_retried_with_backoff(
    fake: FakeGitHub, client: api.Client, sleeps: Sleeps
) -> None:
    fake.fail("GET", r"/comments$", 502, times=2)
    fake.fail("POST", r"/comments$", 503)
    result = comment.upsert_comment(client, REPO, PR, "table")
    assert result.action == "created"
    assert sleeps == [1.0, 2.0, 1.0]
    assert len(fake.requests_for("POST")) == 2
    assert len(fake.bodies(REPO, PR)) == 1


def test_a_post_that_landed_despite_a_502_is_not_posted_twice(
    fake: FakeGitHub, client: api.Client, sleeps: Sleeps
) -> None:
    fake.fail("POST", r"/comments$", 502, applied=True)  # stored, but the client sees 502
    result = comment.upsert_comment(client, REPO, PR, "table")
    assert len(fake.requests_for("POST")) == 1
    assert len(fake.requests_for("PATCH")) == 1
    assert result.comment_id == int(fake.requests_for("PATCH")[0].path.rsplit("/", 1)[1])
    assert len(fake.bodies(REPO, PR)) == 1


def test_5xx_gives_up_after_the_last_attempt(
    fake: FakeGitHub, client: api.Client, sleeps: Sleeps
) -> None:
    fake.fail("GET", r"/comments$", 502, times=10)
    with pytest.raises(api.GitHubError, match="gave up after 5 attempts") as info:
        comment.upsert_comment(client, REPO, PR, "table")
    assert info.value.exit_code == ExitCode.GITHUB_API
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_secondary_rate_limit_waits_retry_after(
    fake: FakeGitHub, client: api.Client, sleeps: Sleeps
) -> None:
    fake.fail(
        "POST", r"/comments$", 429, headers={"retry-after": "7"},
        body={"message": "You have exceeded a secondary rate limit."},
    )  # fmt: skip
    comment.upsert_comment(client, REPO, PR, "table")
    assert sleeps == [7.0]


def test_primary_rate_limit_waits_until_reset(
    fake: FakeGitHub, client: api.Client, sleeps: Sleeps
) -> None:
    fake.fail(
        "GET", r"/comments$", 403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_800_000_000 + 20)},
        body={"message": "API rate limit exceeded for installation ID 1."},
    )  # fmt: skip
    comment.upsert_comment(client, REPO, PR, "table")
    assert sleeps == [21.0]


def test_a_rate_limit_that_resets_too_late_gives_up(
    fake: FakeGitHub, client: api.Client, sleeps: Sleeps
) -> None:
    fake.fail(
        "GET", r"/comments$", 403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_800_000_000 + 3600)},
        body={"message": "API rate limit exceeded"},
    )  # fmt: skip
    with pytest.raises(api.GitHubError, match=r"rate limit is used up|asks to wait"):
        comment.upsert_comment(client, REPO, PR, "table")
    assert sleeps == []


def test_a_403_is_not_retried(fake: FakeGitHub, client: api.Client, sleeps: Sleeps) -> None:
    fake.fail(
        "POST", r"/comments$", 403, body={"message": "Resource not accessible by integration"}
    )
    with pytest.raises(api.PermissionDenied, match="Resource not accessible"):
        comment.upsert_comment(client, REPO, PR, "table")
    assert sleeps == []


def test_a_403_falls_back_to_the_job_summary(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.fail(
        "POST", r"/comments$", 403, body={"message": "Resource not accessible by integration"}
    )
    assert _comment_cli(tmp_path, _table("the table")) == ExitCode.OK
    summary = actions_env.read_text()
    assert summary.startswith("# earlier step\n")  # appended, never overwritten
    assert "Benchmark comment not posted" in summary
    assert "may not write" in summary and "the table" in summary
    assert "benchmark comment not posted" in capfd.readouterr().err
    assert fake.bodies(REPO, PR) == []


def test_no_token_falls_back_without_calling_github(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    assert _comment_cli(tmp_path, _table("t")) == ExitCode.OK
    assert fake.requests == []
    assert "no GitHub token" in actions_env.read_text()


def test_an_outage_writes_the_summary_and_fails_with_its_own_code(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.fail("GET", r"/comments$", 500, times=10)
    with pytest.raises(api.GitHubError):
        comment.publish_comment(client, REPO, "the table", number=PR)
    assert "the GitHub API failed" in actions_env.read_text()


def test_a_connection_failure_is_retried(sleeps: Sleeps) -> None:
    with serve() as dead:
        url = dead.url
    client = api.Client("t", api_url=url, sleep=sleeps, max_attempts=3)
    with pytest.raises(api.GitHubError, match="connection failed"):
        client.request("GET", "/repos/o/r/issues/1/comments")
    assert sleeps == [1.0, 2.0]


# -- the PR check, the token, the API address -----------------------------------------


def test_results_for_an_old_head_are_not_posted(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.add_pull(REPO, PR, head_sha="1" * 40)
    assert comment.publish_comment(client, REPO, "t", number=PR, head_sha=HEAD) is None
    assert fake.requests_for("POST") == []
    assert "is now at 111111111111" in actions_env.read_text()


def test_results_for_the_current_head_are_posted(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.add_pull(REPO, PR, head_sha=HEAD)
    result = comment.publish_comment(client, REPO, "t", number=PR, head_sha=HEAD)
    assert result is not None and result.action == "created"


def test_requests_carry_githubs_headers(fake: FakeGitHub, client: api.Client) -> None:
    comment.upsert_comment(client, REPO, PR, "table")
    for request in fake.requests:
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["authorization"] == f"Bearer {fake.token}"
        assert request.headers["user-agent"].startswith("ci_tools/")


def test_the_token_is_never_printed(
    fake: FakeGitHub, actions_env: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    fake.fail("GET", r"/comments$", 502)
    fake.fail(
        "POST", r"/comments$", 403, body={"message": "Resource not accessible by integration"}
    )
    assert _comment_cli(tmp_path, _table("t")) == ExitCode.OK
    fake.fail("GET", r"/comments$", 404, body={"message": "Not Found"})
    assert _comment_cli(tmp_path, _table("t")) == ExitCode.GITHUB_API
    captured = capfd.readouterr()
    for text in (captured.out, captured.err, actions_env.read_text()):
        assert fake.token not in text
    assert fake.token not in repr(api.Client(fake.token))


def test_github_enterprise_api_url_is_honoured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(FakeGitHub(prefix="/api/v3")) as ghes:
        monkeypatch.setenv("GITHUB_API_URL", ghes.url)
        client = api.Client(ghes.token)
        assert client.api_url.endswith("/api/v3")
        for i in range(120):
            ghes.add_comment(REPO, PR, f"c{i}")
        assert comment.upsert_comment(client, REPO, PR, "t").action == "created"
        assert all(r.path.startswith("/api/v3/repos/") for r in ghes.requests)
        assert len(ghes.requests_for("GET")) == 2  # the Link to page 2 kept the prefix


def test_links_to_another_host_are_not_followed(client: api.Client) -> None:
    with pytest.raises(api.GitHubError, match="refusing to follow"):
        client.request("GET", "https://evil.example/repos/o/r/issues/1/comments")


def test_link_header_parsing() -> None:
    from email.message import Message

    headers = Message()
    headers["Link"] = (
        '<https://api.github.com/x?page=1>; rel="prev", '
        '<https://api.github.com/x?page=3>; rel="next", '
        '<https://api.github.com/x?page=9>; rel="last"'
    )
    assert api.next_link(headers) == "https://api.github.com/x?page=3"
    assert api.next_link(Message()) is None


def test_a_bad_repository_name_is_refused(client: api.Client) -> None:
    with pytest.raises(BadInputError, match="OWNER/NAME"):
        comment.upsert_comment(client, "../etc", PR, "t")


# -- workflow_run: the PR is looked up on GitHub, not taken from the artifact ----------


def test_the_pr_is_found_by_its_head(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.add_pull(REPO, 7, head_sha="2" * 40, head_label="contributor:main")
    fake.add_pull(REPO, PR, head_sha=HEAD, head_label="contributor:main", state="open")
    result = comment.publish_comment(
        client, REPO, "t", number=PR, head_sha=HEAD, head_label="contributor:main"
    )
    assert result is not None and result.action == "created"
    assert fake.bodies(REPO, PR) == [f"{comment.MARKER}\nt"]
    (lookup,) = [r for r in fake.requests if r.path.endswith("/pulls")]
    assert lookup.query == {"head": "contributor:main", "state": "open", "per_page": "100"}


def test_an_artifact_naming_another_pr_is_refused(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.add_pull(REPO, PR, head_sha=HEAD, head_label="contributor:main")
    fake.add_pull(REPO, 1, head_sha="3" * 40, head_label="levkropp:release")
    with pytest.raises(BadInputError, match="name PR #1, but"):
        comment.publish_comment(
            client, REPO, "t", number=1, head_sha=HEAD, head_label="contributor:main"
        )
    assert fake.requests_for("POST") == []


def test_no_open_pr_at_that_head_posts_nothing(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.add_pull(REPO, PR, head_sha="4" * 40, head_label="contributor:main")
    assert (
        comment.publish_comment(client, REPO, "t", head_sha=HEAD, head_label="contributor:main")
        is None
    )
    assert fake.requests_for("POST") == []
    assert "no open PR has head `contributor:main`" in actions_env.read_text()  # as code


# -- results, outputs and messages, exactly ------------------------------------------------


def test_upsert_results_carry_the_comments_id_and_link(
    fake: FakeGitHub, client: api.Client
) -> None:
    created = comment.upsert_comment(client, REPO, PR, "t", author=BOT)
    [cid] = [c["id"] for c in fake.comments[(REPO, PR)]]
    link = f"https://github.com/{REPO}/pull/1#issuecomment-{cid}"
    assert created == comment.CommentResult(action="created", comment_id=cid, url=link,
                                            duplicates=())  # fmt: skip
    same = comment.upsert_comment(client, REPO, PR, "t", author=BOT)
    assert same == comment.CommentResult(action="unchanged", comment_id=cid, url=link,
                                         duplicates=())  # fmt: skip
    other = fake.add_comment(REPO, PR, f"{comment.MARKER}\nolder copy", login=BOT)
    updated = comment.upsert_comment(client, REPO, PR, "u", author=BOT)
    assert updated == comment.CommentResult(action="updated", comment_id=cid, url=link,
                                            duplicates=(other,))  # fmt: skip
    assert fake.bodies(REPO, PR) == [f"{comment.MARKER}\nu", f"{comment.MARKER}\nolder copy"]


def test_a_body_at_the_limit_is_posted_one_over_is_refused(
    fake: FakeGitHub, client: api.Client
) -> None:
    head = f"{comment.MARKER}\n"
    body = head + "x" * (comment.COMMENT_LIMIT - len(head))
    assert comment.upsert_comment(client, REPO, PR, body).action == "created"
    with pytest.raises(BadInputError, match="GitHub allows 65,536") as err:
        comment.upsert_comment(client, REPO, PR, body + "x")
    assert err.value.hint == "pass it through github.fit_comment first"


def test_publish_writes_the_comments_id_and_link_as_step_outputs(
    fake: FakeGitHub, client: api.Client, actions_env: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    outputs = tmp_path / "outputs"
    outputs.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    result = comment.publish_comment(client, REPO, f"{comment.MARKER}\n\ntable", number=PR)
    assert result is not None and result.action == "created"
    written = outputs.read_text()
    assert f"\n{result.comment_id}\n" in written and f"\n{result.url}\n" in written
    assert written.index("comment-id<<") < written.index("comment-url<<")
    assert fake.bodies(REPO, PR) == [f"{comment.MARKER}\n\ntable"]


def test_a_stale_or_closed_pr_is_named_in_the_summary(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    fake.add_pull(REPO, PR, head_sha="9" * 40)
    assert comment.check_pr_head(client, REPO, PR, HEAD) == (
        f"PR #{PR} is now at 999999999999, these results are for 4e1c0a9b7d2f"
    )
    fake.add_pull(REPO, PR, head_sha=HEAD, state="closed")
    assert comment.check_pr_head(client, REPO, PR, HEAD) == f"PR #{PR} is closed"
    assert comment.publish_comment(client, REPO, "t", number=PR, head_sha=HEAD) is None
    assert actions_env.read_text().endswith(f"Benchmark comment not updated: PR #{PR} is closed.\n")
    fake.add_pull(REPO, PR, head_sha=HEAD)
    assert comment.check_pr_head(client, REPO, PR, HEAD) is None


def test_without_a_token_the_table_goes_to_the_summary(fake: FakeGitHub, actions_env: Path) -> None:
    anonymous = api.Client(None, api_url=fake.url)
    body = f"{comment.MARKER}\n\n## the table\n"
    assert comment.publish_comment(anonymous, REPO, body, number=PR) is None
    assert actions_env.read_text() == (
        "# earlier step\n### Benchmark comment not posted\n\n"
        "no GitHub token was given (set GITHUB_TOKEN for this step)\n\n## the table\n"
    )
    assert fake.requests == []


def test_publish_needs_a_pr_and_a_head_commit_to_look_one_up(
    fake: FakeGitHub, client: api.Client, actions_env: Path
) -> None:
    with pytest.raises(BadInputError, match=r"^no pull request number: pass --pr N$"):
        comment.publish_comment(client, REPO, "t")
    with pytest.raises(BadInputError, match=r"^looking a PR up by its head needs the head commit"):
        comment.publish_comment(client, REPO, "t", head_label="contributor:main")


def test_truncation_cuts_at_a_line_and_says_so() -> None:
    note = "\n\n*… cut to fit GitHub's comment limit*\n"
    text = "line one\n" + "y" * 60 + "\nlast line\n"
    assert comment.truncate_markdown(text, len(text)) == text
    cut = comment.truncate_markdown(text, len(note) + 15)
    assert cut == "line one" + note
    assert comment.truncate_markdown("x" * 100, len(note) + 10) == "x" * 10 + note
    assert comment.truncate_markdown(text, 5) == note[:5]
