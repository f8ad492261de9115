"""What a workflow step knows: the pull request of its event, and step outputs.

- ``read_event``: the PR number and base/head commits from
  ``$GITHUB_EVENT_PATH`` for ``pull_request`` and ``workflow_run`` events;
- ``set_output``: ``$GITHUB_OUTPUT`` in GitHub's multi-line-safe format;
- ``run_url``: the page of the current workflow run.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from ci_tools.errors import BadInputError
from ci_tools.github.api import dig


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
    repository = dig(payload, "repository", "full_name")
    if name in ("pull_request", "pull_request_target"):
        pr = dig(payload, "pull_request")
        number = dig(pr, "number")
        head = dig(pr, "head", "sha")
        base = dig(pr, "base", "sha")
        head_repo = dig(pr, "head", "repo", "full_name")
    elif name == "workflow_run":
        run = dig(payload, "workflow_run")
        head = dig(run, "head_sha")
        head_repo = dig(run, "head_repository", "full_name")
        number = dig(run, "pull_requests", 0, "number")
        base = dig(run, "pull_requests", 0, "base", "sha")
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
