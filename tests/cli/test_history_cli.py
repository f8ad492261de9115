"""``python -m ci_tools history``: local result files and stored records, the table, the
reports, and bad input (exit 3, never a traceback)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ci_tools import cli
from ci_tools.history import store

import history_fake as hf


@pytest.fixture(autouse=True)
def outside_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_REPOSITORY", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "")


def _records_folder(folder: Path, profiles: tuple[str, ...] = ("fortress", "linux")) -> Path:
    folder.mkdir()
    for r in hf.history(profiles=profiles):
        (folder / f"{r.profile}-{r.commit[:8]}.json").write_bytes(store.encode(r))
    (folder / "manifest.json").write_text('{"format": "ci_tools-bench-pr"}')  # passed over
    return folder


def test_history_of_a_folder_prints_the_change_points_and_writes_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _records_folder(tmp_path / "records")
    code = cli.main(["history", str(folder), "--html", "report.html", "--markdown", "h.md",
                     "--commit-url", "https://example.invalid/c/{commit}"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "history: 34 commit(s), 2 profile(s), 4 series" in out
    assert "new series: QEMU version: 7.2.22 -> 8.2.0" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("fortress ", "linux "))]
    found = {(r[0], r[1], r[2]) for r in rows}
    assert found == {(p, b, hf.sha(at)[:10]) for at, p, b in hf.STEPS if p in ("fortress", "linux")}
    trap = next(r for r in rows if r[1] == "trap")
    assert trap[6:8] == ["+5.0%", "slower"]
    page = (tmp_path / "report.html").read_text()
    assert f'href="https://example.invalid/c/{hf.sha(6)}"' in page
    assert "| `fortress` | `trap`" in (tmp_path / "h.md").read_text()
    assert f"report: {Path('report.html')}" in out


def test_local_result_files_are_placed_by_git(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Result files name their commit; the repository says its parents, so a commit made
    earlier in git but measured later is still drawn first."""
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}  # fmt: skip
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    shas = []
    for i in range(6):
        date = f"2026-09-0{i + 1}T10:00:00+00:00"
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", f"c{i}"], cwd=repo,
                       env={**env, "GIT_COMMITTER_DATE": date}, check=True)  # fmt: skip
        shas.append(subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, text=True,
                                   capture_output=True, check=True).stdout.strip())  # fmt: skip
    results = tmp_path / "results"
    results.mkdir()
    for i, sha in enumerate(shas):
        doc = json.loads((hf.DEMO / "fortress.json").read_text())
        doc["provenance"]["git_commit"] = sha
        doc["provenance"]["started_at"] = f"2026-10-0{9 - i}T00:00:00+00:00"  # measured backwards
        if i >= 3:
            for s in doc["benchmarks"]["trap"]["samples"]:
                s["total_ns"] = round(s["total_ns"] * 1.05)
        (results / f"fortress-{i}.json").write_text(json.dumps(doc))
    assert cli.main(["history", str(results), "--repo", str(repo)]) == 0
    out = capsys.readouterr().out
    assert f"fortress: 6 commit(s) {shas[0][:10]}..{shas[5][:10]}" in out
    assert [line.split()[2] for line in out.splitlines() if " trap " in line] == [shas[3][:10]]


def test_history_of_the_demo_kernel_without_steps(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["history", str(hf.DEMO)]) == 0
    out = capsys.readouterr().out
    assert "4 profile(s), 4 series" in out and "no change points" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history"], "history needs runs to read"),
        (["history", "missing.json"], "missing.json: no such file or folder"),
        (["history", "notjson.txt"], "notjson.txt: not readable JSON"),
        (["history", "other.json"], "other.json: not a ci_tools result file or history record"),
        (["history", "record", "x.json"], "the following arguments are required: --commit"),
        (["history", "--remote", "nowhere.git"], "cannot read the history remote 'nowhere.git'"),
    ],
)
def test_bad_input_is_exit_3_with_the_cause(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notjson.txt").write_text("not json")
    (tmp_path / "other.json").write_text("[1, 2]")
    assert cli.main(args) == 3
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_record_of_a_commit_git_does_not_know(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    fortress = str(hf.DEMO / "fortress.json")
    code = cli.main(["history", "record", fortress, "--commit", "0" * 40, "--remote",
                     str(tmp_path / "none.git"), "--repo", str(tmp_path / "repo")])  # fmt: skip
    assert code == 3
    assert "is not in the repository" in capsys.readouterr().err
