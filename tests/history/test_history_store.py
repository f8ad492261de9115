"""The history branch, with real git: records pushed to a bare repository, read back,
written by concurrent pushers, compacted, and searched for a reusable baseline."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ci_tools.errors import BadInputError
from ci_tools.history import store
from ci_tools.history.record import Record
from ci_tools.results.combine import first_boots
from ci_tools.results.model import Result

import history_fake as hf

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost",
}  # fmt: skip


def git(cwd: Path, *args: str, **env: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **env}).stdout.strip()  # fmt: skip


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    bare.mkdir()
    git(bare, "init", "--quiet", "--bare")
    return bare


def clone(tmp_path: Path, name: str) -> Path:
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "--quiet")
    return repo


def branch(tmp_path: Path, remote: Path, name: str = "work") -> store.HistoryBranch:
    return store.HistoryBranch(repo=clone(tmp_path, name), remote=str(remote))


def test_records_are_pushed_to_an_orphan_branch_and_read_back(tmp_path: Path, remote: Path) -> None:
    records = hf.history(n=3, profiles=("fortress", "balanced"))
    writer = branch(tmp_path, remote)
    written = writer.record(records[:2])
    assert written == sorted(store.path_of(r) for r in records[:2])
    assert all(p.startswith(("fortress/", "balanced/")) for p in written)
    writer.record(records[2:])
    tip = git(remote, "rev-parse", "refs/heads/ci_tools-history")
    assert (
        git(remote, "rev-list", "--max-parents=0", tip)
        == git(remote, "rev-list", "--reverse", tip).splitlines()[0]
    )
    assert git(remote, "branch", "--list").split() == ["ci_tools-history"]  # nothing else touched
    back = branch(tmp_path, remote, "reader").read()
    assert sorted((r.commit, r.profile) for r in back) == sorted((r.commit, r.profile)
                                                                for r in records)  # fmt: skip
    by_path = {store.path_of(r): r for r in back}
    for r in records:
        assert by_path[store.path_of(r)].result.data == r.result.data
        assert by_path[store.path_of(r)].parents == r.parents


def test_recording_the_same_run_twice_changes_nothing(tmp_path: Path, remote: Path) -> None:
    records = hf.history(n=1, profiles=("fortress",))
    writer = branch(tmp_path, remote)
    writer.record(records)
    tip = git(remote, "rev-parse", "refs/heads/ci_tools-history")
    assert writer.record(records) == []
    assert git(remote, "rev-parse", "refs/heads/ci_tools-history") == tip


def test_reading_a_history_that_does_not_exist_yet(tmp_path: Path, remote: Path) -> None:
    assert branch(tmp_path, remote).read() == []


def test_a_remote_that_refuses_the_push_is_a_clear_error(tmp_path: Path, remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'permission denied to ci_tools' >&2\nexit 1\n")
    hook.chmod(0o755)
    with pytest.raises(store.HistoryPushError) as caught:
        branch(tmp_path, remote).record(hf.history(n=1, profiles=("fortress",)))
    assert "permission denied to ci_tools" in caught.value.message
    assert "contents: write" in (caught.value.hint or "")


def _source_repo(tmp_path: Path, n: int) -> tuple[Path, list[str]]:
    """A repository with ``n`` commits of main, one hour apart."""
    repo = clone(tmp_path, "source")
    shas = []
    for i in range(n):
        date = f"2026-09-01T{i:02d}:00:00+00:00"
        git(repo, "commit", "--quiet", "--allow-empty", "-m", f"change {i}",
            GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)  # fmt: skip
        shas.append(git(repo, "rev-parse", "HEAD"))
    return repo, shas


def _result_files(folder: Path, commit: str) -> list[str]:
    """Real demo-kernel results, said to have measured ``commit``."""
    folder.mkdir(parents=True)
    out = []
    for profile in hf.PROFILES:
        doc = json.loads((hf.DEMO / f"{profile}.json").read_text())
        doc["provenance"]["git_commit"] = commit
        (folder / f"{profile}.json").write_text(json.dumps(doc))
        out.append(str(folder / f"{profile}.json"))
    return out


def test_concurrent_pushers_lose_no_record(tmp_path: Path, remote: Path) -> None:
    """Six `history record` processes at once, each from its own clone, into one remote."""
    source, shas = _source_repo(tmp_path, 6)
    children = []
    for i, sha in enumerate(shas):
        work = tmp_path / f"job{i}"
        git(tmp_path, "clone", "--quiet", str(source), str(work))
        files = _result_files(tmp_path / f"results{i}", sha)
        children.append(subprocess.Popen(
            [sys.executable, "-m", "ci_tools", "history", "record", *files, "--commit", sha,
             "--remote", str(remote), "--repo", str(work)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        ))  # fmt: skip
    outputs = [c.communicate(timeout=300)[0] for c in children]
    assert [c.returncode for c in children] == [0] * 6, outputs
    assert any("trying again" in o for o in outputs), "the pushers never collided"
    back = branch(tmp_path, remote, "reader").read()
    assert sorted((r.commit, r.profile) for r in back) == sorted(
        (sha, p) for sha in shas for p in hf.PROFILES
    )
    for r in back:  # each record knows its commit's place in git
        i = shas.index(r.commit)
        assert r.parents == ((shas[i - 1],) if i else ())
        assert r.subject == f"change {i}"
    git(remote, "fsck", "--strict")


def test_record_refuses_results_of_another_commit(tmp_path: Path, remote: Path) -> None:
    source, shas = _source_repo(tmp_path, 2)
    files = _result_files(tmp_path / "results", shas[0])
    done = subprocess.run(
        [sys.executable, "-m", "ci_tools", "history", "record", *files, "--commit", shas[1],
         "--remote", str(remote), "--repo", str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 3
    assert f"measured commit {shas[0]}, not {shas[1]}" in done.stderr
    assert "Traceback" not in done.stderr
    assert git(remote, "branch", "--list") == ""


def test_compaction_keeps_recent_runs_and_one_a_week_before(tmp_path: Path, remote: Path) -> None:
    """34 commits five hours apart: with 3 days kept, the older ones fold into one run per
    profile and ISO week, and the branch becomes one commit."""
    records = hf.history(profiles=("fortress",))
    writer = branch(tmp_path, remote)
    for k in range(0, len(records), 9):
        writer.record(records[k : k + 9])
    total, kept = writer.compact(keep_days=3)
    assert total == len(records)
    dates = sorted(r.date for r in records)
    back = branch(tmp_path, remote, "reader").read()
    assert len(back) == kept < total
    recent = [r for r in records if r.date >= "2026-09-05T10"]  # newest 2026-09-08T08, minus 3 d
    assert {r.commit for r in recent} <= {r.commit for r in back}
    folded = [r for r in back if r.stands_for]
    assert folded, "older runs were folded into their week's last run"
    covered = {r.commit for r in back} | {c for r in back for c in r.stands_for}
    assert covered == {r.commit for r in records}  # every commit still accounted for
    assert dates[0] < min(r.date for r in back if not r.stands_for)
    tip = git(remote, "rev-parse", "refs/heads/ci_tools-history")
    assert git(remote, "rev-list", "--count", tip) == "1"
    assert writer.compact(keep_days=3) == (kept, kept)  # nothing more to do
    assert git(remote, "rev-parse", "refs/heads/ci_tools-history") == tip


def test_compaction_does_not_lose_a_record_pushed_meanwhile(
    tmp_path: Path, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record lands between compaction's read and its push: the lease fails, the
    compaction reads again, and the new record is in what it pushes."""
    records = hf.history(n=12, profiles=("fortress",))
    writer = branch(tmp_path, remote)
    writer.record(records[:-1])
    other = branch(tmp_path, remote, "other")
    real_push = store.HistoryBranch._push
    landed = []

    def push_after_a_record(
        self: store.HistoryBranch, commit: str, tip: str | None, *, replace: bool = False
    ) -> bool:
        if replace and not landed:
            landed.extend(other.record(records[-1:]))
        return real_push(self, commit, tip, replace=replace)

    monkeypatch.setattr(store.HistoryBranch, "_push", push_after_a_record)
    writer.compact(keep_days=1)
    assert landed
    assert records[-1].commit in {r.commit for r in branch(tmp_path, remote, "r").read()}


def _fresh(record: Record, edit: Callable[[dict[str, Any]], None] | None = None) -> Result:
    """The stored run's first boot measured again (``edit``: what is different now)."""
    document = first_boots(record.result, 1)
    if edit is not None:
        edit(document)
    return Result(document)


def test_find_baseline_reuses_a_run_whose_boot_repeats() -> None:
    records = hf.history(n=3, profiles=("fortress", "balanced"))
    wanted = records[2]
    found = store.find_baseline(records, _fresh(wanted), wanted.commit, profile="fortress")
    assert found.result is wanted.result
    assert found.reason.startswith(f"reused the stored run of {wanted.commit[:12]} recorded ")
    assert "(4 boots; boot 1 measured again here agrees within 0.5%)" in found.reason


def _set(*path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        node = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return edit


def _scaled(name: str, factor: float) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        for sample in document["benchmarks"][name]["samples"]:
            sample["total_ns"] = round(sample["total_ns"] * factor)

    return edit


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        (_set("setup", "qemu", "version", value="8.2.0"), "QEMU version: 7.2.22 -> 8.2.0"),
        (
            _set("target", "kernel", "sha256", value="0" * 64),
            "kernel: 3cf068e4bfcd -> 000000000000",
        ),
        (_set("provenance", "ci_tools_version", value="0.2.0"), "ci_tools version: 0.1.0 -> 0.2.0"),
        (_set("target", "cmdline", value="console=ttyS0 mitigations=off"), "kernel command line"),
        (_set("setup", "bench_mode", value="full"), "bench mode"),
        # nothing on paper, but the harness measures otherwise now
        (_scaled("trap", 1.02), "boot 1 measured again differs: trap"),
    ],
)
def test_find_baseline_says_why_it_cannot_reuse(
    edit: Callable[[dict[str, Any]], None], said: str
) -> None:
    records = hf.history(n=3, profiles=("fortress",))
    base = records[1]
    found = store.find_baseline(records, _fresh(base, edit), base.commit, profile="fortress")
    assert found.result is None and said in found.reason
    assert found.reason.startswith(f"stored run of fortress at {base.commit[:12]}: ")


def test_find_baseline_wants_the_boots_and_a_boot_it_can_check() -> None:
    records = hf.history(n=3, profiles=("fortress",))
    base = records[1]
    missing = store.find_baseline(records, _fresh(base), hf.sha(9), profile="fortress")
    assert missing.result is None and "no run of fortress" in missing.reason
    few = store.find_baseline(records, _fresh(base), base.commit, profile="fortress", min_boots=16)
    assert few.result is None and "has 4 boots, 16 wanted" in few.reason
    later = Result(first_boots(base.result, 4))
    later.data["boots"] = [b for b in later.data["boots"] if b["index"] == 3]
    for bench in later.data["benchmarks"].values():
        bench["samples"] = [s for s in bench["samples"] if s["boot"] == 3]
    later.data["boots"][0]["index"] = 9
    for bench in later.data["benchmarks"].values():
        for sample in bench["samples"]:
            sample["boot"] = 9
    unknown = store.find_baseline(records, later, base.commit, profile="fortress")
    assert unknown.result is None and "it has no boot 10 to check against" in unknown.reason


def test_a_long_reason_is_cut_to_fit_the_manifest() -> None:
    records = hf.history(n=1, profiles=("fortress",))
    base = records[0]

    def everything(document: dict[str, Any]) -> None:
        document["setup"]["qemu"]["version"] = "9" * 600
        document["target"]["kernel"]["sha256"] = "0" * 64
        document["setup"]["bench_mode"] = "full"
        document["setup"]["quick"] = not document["setup"]["quick"]

    found = store.find_baseline(records, _fresh(base, everything), base.commit, profile="fortress")
    assert len(found.reason) <= store.MAX_REASON and found.reason.endswith("…")


def test_a_hostile_record_is_passed_over_not_followed(
    tmp_path: Path, remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Anyone who may push the branch may write it: a deep nest, or a link to a file
    outside it, is named and skipped."""
    work = tmp_path / "hostile"
    subprocess.run(["git", "init", "-q", "-b", store.DEFAULT_BRANCH, str(work)], check=True)
    (work / "fortress" / "aa").mkdir(parents=True)
    (work / "fortress" / "aa" / "deep.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    outside = tmp_path / "outside.json"
    outside.write_bytes(store.encode(hf.history(n=1, profiles=("fortress",))[0]))
    (work / "fortress" / "aa" / "link.json").symlink_to(outside)
    who = ["-c", "user.name=x", "-c", "user.email=x@invalid"]
    commit = [*who, "commit", "-q", "-m", "x"]
    for args in (["add", "-A"], commit, ["push", "-q", str(remote), "HEAD"]):
        subprocess.run(["git", *args], cwd=work, check=True)
    assert branch(tmp_path, remote, "reader").read() == []
    err = capsys.readouterr().err
    assert "deep.json skipped" in err and "nested" in err
    assert "link.json skipped" in err and "link" in err


def test_a_broken_record_on_the_branch_is_named_and_passed_over(
    tmp_path: Path, remote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = hf.history(n=2, profiles=("fortress",))
    writer = branch(tmp_path, remote)
    writer.record(records[:1])
    damaged = {k: v for k, v in records[1].result.data.items() if k != "benchmarks"}
    broken = dataclasses.replace(records[1], result=Result(damaged))
    writer.record([broken])
    back = branch(tmp_path, remote, "reader").read()
    assert [r.commit for r in back] == [records[0].commit]
    assert f"{store.path_of(broken)} skipped" in capsys.readouterr().err


def test_a_record_of_an_unknown_version_is_refused() -> None:
    data = store.encode(hf.history(n=1, profiles=("fortress",))[0])
    document = json.loads(data)
    document["version"] = 7
    with pytest.raises(BadInputError, match="history record version 7; this ci_tools reads"):
        Record.from_dict(document, source="x.json")
