"""``ci_tools init`` and the consumer: the demo kernel as a repository of its own that
adopts ci_tools with the ten-line workflows ``init`` writes, linted with actionlint and
zizmor, its ``uses:`` resolved to this checkout's reusable workflows and checked for
inputs, secrets, outputs and permissions."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_tools import RELEASE, REPOSITORY, cli
from ci_tools.errors import ExitCode
from ci_tools.github import adopt

from conftest import REPO

GITHUB = REPO / ".github"
LEVELS = {"none": 0, "read": 1, "write": 2}


def tool(name: str) -> str:
    """A linter from the test extra: beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.is_file() else shutil.which(name)
    assert path, f"{name} is not installed: pip install -e '.[test]'"
    return path


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    if True in data:  # YAML 1.1 reads the key `on` as a boolean
        data["on"] = data.pop(True)
    return data


def called_workflow(uses: str, caller_repo: Path) -> Path:
    """A reusable workflow named by ``uses:``: ci_tools' own, resolved to this checkout."""
    if uses.startswith("./"):
        return caller_repo / uses
    prefix = f"{REPOSITORY}/"
    assert uses.startswith(prefix), f"{uses}: not ci_tools' ({REPOSITORY})"
    path, ref = uses.removeprefix(prefix).split("@")
    assert ref == RELEASE or len(ref) == 40, ref
    return REPO / path


def granted(permissions: Any) -> dict[str, int]:
    if permissions in (None, {}):
        return {}
    if isinstance(permissions, str):  # read-all / write-all
        return {"*": LEVELS[permissions.removesuffix("-all")]}
    return {scope: LEVELS[level] for scope, level in permissions.items()}


def check_call(caller: dict[str, Any], job_name: str, called_path: Path) -> None:
    """Inputs, secrets, outputs and permissions of one ``jobs.<job>.uses`` call."""
    job = caller["jobs"][job_name]
    called = load(called_path)
    spec = called["on"]["workflow_call"] or {}
    inputs = spec.get("inputs", {})
    given = job.get("with", {})
    unknown = sorted(set(given) - set(inputs))
    assert not unknown, f"{job_name}: unknown inputs {unknown} for {called_path.name}"
    for name, decl in inputs.items():
        if decl.get("required"):
            assert name in given, f"{job_name}: required input {name} not given"
        if name in given and not str(given[name]).startswith("${{"):
            kind = {"string": str, "number": (int, float), "boolean": bool}[decl["type"]]
            assert isinstance(given[name], kind), f"{job_name}: input {name} is not a {kind}"
    required_secrets = [n for n, d in (spec.get("secrets") or {}).items() if d.get("required")]
    if job.get("secrets") != "inherit":
        missing = set(required_secrets) - set(job.get("secrets") or {})
        assert not missing, f"{job_name}: secrets {missing} not passed"
    declared_outputs = set(spec.get("outputs") or {})
    for other in caller["jobs"].values():
        for ref in yaml.safe_dump(other).split(f"needs.{job_name}.outputs.")[1:]:
            name = ref.split()[0].rstrip("}")
            assert name in declared_outputs, f"output {name} of {job_name} is not declared"
    # The caller grants what every called job asks for (GitHub fails the run otherwise).
    grant = granted(job.get("permissions", caller.get("permissions")))
    for called_name, called_job in called["jobs"].items():
        for scope, level in granted(called_job.get("permissions")).items():
            have = max(grant.get(scope, 0), grant.get("*", 0))
            assert have >= level, f"{called_path.name}/{called_name} needs {scope}: {level}"


def check_actions(workflow: Path, action_root: Path) -> None:
    """Every ``./.ci_tools/…`` (or ``./…``) action a reusable workflow uses exists, and is
    given only inputs it declares and the ones it requires; outputs read from it exist."""
    data = load(workflow)
    for job in data["jobs"].values():
        ids: dict[str, set[str]] = {}
        for step in job.get("steps", []):
            uses = step.get("uses", "")
            if not uses.startswith("./"):
                continue
            relative = uses.removeprefix("./").removeprefix(".ci_tools/")
            action = load(action_root / relative / "action.yml")
            inputs = action.get("inputs", {})
            unknown = set(step.get("with", {})) - set(inputs)
            assert not unknown, f"{workflow.name}: {uses} has no inputs {unknown}"
            for name, decl in inputs.items():
                if decl.get("required") and "default" not in decl:
                    assert name in step.get("with", {}), f"{workflow.name}: {name} not given"
            if "id" in step:
                ids[step["id"]] = set(action.get("outputs", {}))
        text = yaml.safe_dump(job)
        for step_id, outputs in ids.items():
            for ref in text.split(f"steps.{step_id}.outputs.")[1:]:
                name = ref.split()[0].rstrip("}")
                assert name in outputs, f"{workflow.name}: {step_id} has no output {name}"


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo kernel as its own git repository, adopted with `ci_tools init`."""
    repo = tmp_path_factory.mktemp("consumer") / "kernel"
    shutil.copytree(REPO / "examples" / "kernel", repo, ignore=shutil.ignore_patterns("target"))
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    result = subprocess.run(
        [sys.executable, "-m", "ci_tools", "init", "--target", "arch/x64/x64.json"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "adopt ci_tools"], cwd=repo, check=True)
    return repo


def test_the_consumers_workflows_are_ten_lines_or_so(consumer: Path) -> None:
    workflows = sorted((consumer / ".github" / "workflows").glob("*.yml"))
    assert [p.name for p in workflows] == [
        "bench-comment.yml", "bench-history.yml", "bench.yml", "checks.yml",
    ]  # fmt: skip
    for path in workflows:
        assert len(path.read_text().splitlines()) <= 14, path.name


def test_actionlint_and_zizmor_find_nothing_in_the_consumer(consumer: Path) -> None:
    lint = subprocess.run(
        [tool("actionlint"), "-no-color"], cwd=consumer, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert (lint.returncode, lint.stdout + lint.stderr) == (0, "")
    audit = subprocess.run(
        [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", ".github"],
        cwd=consumer, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "No findings to report" in audit.stdout + audit.stderr
    workflows = sorted(map(str, (consumer / ".github" / "workflows").glob("*.yml")))
    schema = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr
    for path in workflows:
        assert "$/" not in Path(path).read_text()  # GitHub Enterprise Server has no `$/`


def test_the_consumers_calls_match_ci_tools_reusable_workflows(consumer: Path) -> None:
    workflows = {p.name: load(p) for p in (consumer / ".github" / "workflows").glob("*.yml")}
    called = set()
    for workflow in workflows.values():
        for name, job in workflow["jobs"].items():
            path = called_workflow(job["uses"], consumer)
            check_call(workflow, name, path)
            called.add(path.name)
    assert called == {"checks.yml", "bench.yml", "comment.yml", "history.yml"}
    # the comment runs after the benchmark workflow, by its name
    runs_after = workflows["bench-comment.yml"]["on"]["workflow_run"]["workflows"]
    assert runs_after == [workflows["bench.yml"]["name"]]
    # the consumer's starter config is one ci_tools reads, with a pinned nightly
    code = cli.main(["config", "--config", str(consumer / "ci_tools.toml")])
    assert code == ExitCode.OK
    pin = f'rustup_toolchain = "{adopt.STARTER_NIGHTLY}"'
    assert pin in (consumer / "ci_tools.toml").read_text()


def test_ci_tools_own_callers_match_its_reusable_workflows() -> None:
    """ci_tools' CI is a consumer of the same reusable workflows."""
    called = set()
    for path in sorted((GITHUB / "workflows").glob("*.yml")):
        workflow = load(path)
        for name, job in workflow["jobs"].items():
            if "uses" in job:
                target = called_workflow(job["uses"], REPO)
                check_call(workflow, name, target)
                called.add(target.name)
        check_actions(path, REPO)
    assert called == {"checks.yml", "bench.yml", "comment.yml", "history.yml"}


def test_reusable_workflows_install_ci_tools_from_its_own_repository_and_tag() -> None:
    for name in ("checks.yml", "bench.yml", "comment.yml", "history.yml"):
        workflow = load(GITHUB / "workflows" / name)
        inputs = workflow["on"]["workflow_call"]["inputs"]
        assert inputs["ci-tools-repository"]["default"] == REPOSITORY, name
        assert inputs["ci-tools-ref"]["default"] == RELEASE, name
        text = (GITHUB / "workflows" / name).read_text()
        assert "pip install -e" not in text and "pip install ." not in text
        for job in workflow["jobs"].values():
            sides = [s for s in job["steps"] if s.get("with", {}).get("path") == ".ci_tools"]
            assert sides and sides[0]["with"]["ref"] == "${{ inputs.ci-tools-ref }}"
    action = (GITHUB / "actions" / "setup" / "action.yml").read_text()
    assert 'pip install --disable-pip-version-check "$GITHUB_ACTION_PATH/../../.."' in action


def test_init_refuses_to_overwrite_and_force_does(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "k"\n[features]\nprofile-a = []\n')
    (tmp_path / "noxfile.py").write_text("# mine\n")
    assert cli.main(["init", str(tmp_path)]) == ExitCode.BAD_INPUT
    assert (tmp_path / "noxfile.py").read_text() == "# mine\n"
    assert not (tmp_path / "ci_tools.toml").exists()  # nothing was written
    assert cli.main(["init", str(tmp_path), "--force"]) == ExitCode.OK
    assert "sessions.register()" in (tmp_path / "noxfile.py").read_text()
    assert "[profiles.a]" in (tmp_path / "ci_tools.toml").read_text()
    assert (tmp_path / "Makefile").read_text() == "include ci_tools.mk\n"
    assert (tmp_path / "ci_tools.mk").read_text() == (REPO / "ci_tools.mk").read_text()


def test_init_pinned_to_a_commit_installs_that_commit(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "k"\n')
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert cli.main(["init", str(tmp_path), "--ref", sha]) == ExitCode.OK
    bench = load(tmp_path / ".github" / "workflows" / "bench.yml")
    assert bench["jobs"]["bench"]["uses"].endswith(f"@{sha}")
    assert bench["jobs"]["bench"]["with"] == {"ci-tools-ref": sha}


def test_init_needs_a_crate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["init", str(tmp_path)]) == ExitCode.BAD_INPUT
    assert "no Cargo.toml" in capsys.readouterr().err


def test_the_readme_shows_the_three_files_whole() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Adopting ci_tools") : readme.index("## GitHub: checks")]
    options = adopt.InitOptions(root=REPO, ref=RELEASE)
    for path, text in adopt.workflow_files(options).items():
        assert f"```yaml\n# {path}\n{text}```\n" in section, path
    assert f"git+https://github.com/{REPOSITORY}@{RELEASE}" in section
