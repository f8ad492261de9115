"""Event payloads (fixtures in GitHub's documented shapes) and step outputs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ci_tools import cli
from ci_tools.errors import BadInputError, ExitCode
from ci_tools.github.event import read_event, run_url, set_output

from conftest import FIXTURES

EVENTS = FIXTURES / "events"
HEAD = "4e1c0a9b7d2f3e5a6b8c9d0e1f2a3b4c5d6e7f80"
BASE = "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432"


def test_pull_request_from_the_same_repository() -> None:
    event = read_event(EVENTS / "pull_request.synchronize.json", event_name="pull_request")
    assert event.number == 42
    assert (event.head_sha, event.base_sha) == (HEAD, BASE)
    assert event.repository == "levkropp/kevlar"
    assert not event.from_fork


def test_pull_request_from_a_fork() -> None:
    event = read_event(EVENTS / "pull_request.opened.fork.json", event_name="pull_request")
    assert event.number == 57
    assert event.head_repository == "contributor/kevlar"
    assert event.from_fork


def test_workflow_run_of_a_same_repository_pr_names_the_pr() -> None:
    event = read_event(EVENTS / "workflow_run.completed.json", event_name="workflow_run")
    assert (event.number, event.head_sha, event.base_sha) == (42, HEAD, BASE)
    assert not event.from_fork


def test_workflow_run_of_a_fork_pr_has_no_number() -> None:
    # GitHub leaves workflow_run.pull_requests empty for forks: the number
    # must come from the artifact and be checked against the head commit.
    event = read_event(EVENTS / "workflow_run.completed.fork.json", event_name="workflow_run")
    assert event.number is None
    assert event.head_sha == HEAD
    assert event.from_fork


def test_event_name_and_path_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(EVENTS / "pull_request.synchronize.json"))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    assert read_event().number == 42


def test_other_events_are_refused() -> None:
    with pytest.raises(BadInputError, match="not a pull_request or workflow_run"):
        read_event(EVENTS / "push.json", event_name="push")


def test_a_payload_of_the_wrong_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text('{"pull_request": {"number": "42"}}')
    with pytest.raises(BadInputError, match="not a pull_request event payload"):
        read_event(path, event_name="pull_request")


def test_missing_event_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_EVENT_PATH", raising=False)
    with pytest.raises(BadInputError, match="GITHUB_EVENT_PATH is not set"):
        read_event(event_name="pull_request")


def _outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT the way the runner does (heredoc form)."""
    values: dict[str, str] = {}
    lines = path.read_text().split("\n")
    i = 0
    while i < len(lines) and lines[i]:
        name, delimiter = lines[i].split("<<", 1)
        end = lines.index(delimiter, i + 1)
        values[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return values


def test_set_output_appends_in_heredoc_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "output"
    out.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert set_output("pr", "42")
    assert set_output("table", "line one\nevil=injected\nline three")
    assert _outputs(out) == {"pr": "42", "table": "line one\nevil=injected\nline three"}
    assert re.search(r"^table<<ghadelimiter_[0-9a-f-]{36}$", out.read_text(), re.M)


def test_set_output_outside_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert not set_output("pr", "1")
    with pytest.raises(ValueError):
        set_output("bad\nname", "1")


def test_github_event_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "output"
    out.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    code = cli.main(
        ["github-event", "--event-path", str(EVENTS / "workflow_run.completed.fork.json"),
         "--event-name", "workflow_run"]
    )  # fmt: skip
    assert code == ExitCode.OK
    assert _outputs(out) == {
        "pr": "",
        "base-sha": "",
        "head-sha": HEAD,
        "head-repository": "contributor/kevlar",
        "from-fork": "true",
    }
    assert f"head-sha={HEAD}" in capsys.readouterr().out


def test_run_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.example.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    assert run_url() == "https://github.example.com/o/r/actions/runs/77"
    monkeypatch.delenv("GITHUB_RUN_ID")
    assert run_url() is None
