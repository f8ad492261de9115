"""bench-pr (base and head on one runner) and the comment built from its artifact.

The harness is replaced by a function that writes result files derived from
a real, schema-valid result (tests/fixtures/schema), so these tests run git
for real but never QEMU or cargo.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gfm import links, references, render
from github_fake import FakeGitHub, serve

import ci_tools
from ci_tools import cli, config
from ci_tools.bench.schedule import Shard
from ci_tools.errors import BadInputError, ExitCode
from ci_tools.gate import measure
from ci_tools.gate.evaluate import evaluate
from ci_tools.gate.manifest import MANIFEST, MANIFEST_SCHEMA, load_manifest, result_path
from ci_tools.github import comment
from ci_tools.history.record import commit_info, from_results
from ci_tools.history.store import HistoryBranch
from ci_tools.results import store

from conftest import FIXTURES

FIXTURE = FIXTURES / "schema" / "valid-linux-tcg-deterministic.json"
REPO = "levkropp/kevlar"
REPO_ROOT = Path(ci_tools.__file__).resolve().parent.parent
PROFILES = ("fortress", "balanced", "performance", "ludicrous")


def make_result(
    *,
    boots: int = 8,
    scale: dict[str, float] | None = None,
    first_boot: int = 0,
    profile: str | None = None,
    kernel: str | None = None,
) -> dict[str, Any]:
    """A deterministic-mode result with ``boots`` boots numbered from ``first_boot``;
    ``scale`` slows benchmarks down; ``profile`` and ``kernel`` (a tree's VERSION, whose
    hash stands for the kernel built from it) say what was booted."""
    source = json.loads(FIXTURE.read_text())
    document = copy.deepcopy(source)
    if profile is not None:
        document["target"]["profile"] = profile
    if kernel is not None:
        document["target"]["kernel"]["sha256"] = hashlib.sha256(kernel.encode()).hexdigest()
    indices = range(first_boot, first_boot + boots)
    document["setup"]["boots"] = boots
    document["boots"] = [dict(copy.deepcopy(source["boots"][0]), index=i) for i in indices]
    for name, bench in document["benchmarks"].items():
        first = bench["samples"][0]
        bench["samples"] = []
        for boot in indices:
            factor = (scale or {}).get(name, 1.0) * (1 + 0.0004 * boot)  # no ties
            total = int(first["total_ns"] * factor)
            bench["samples"].append(
                dict(first, boot=boot, total_ns=total, per_iter_ns=total // first["iterations"])
            )
    store.validate(document, source="test result")
    return document


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def pr_repo(tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """A clone with main (base) and a PR branch checked out: (repo, base, head)."""
    repo = tmp_path / "kernel"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.org")
    git(repo, "config", "user.name", "t")
    (repo / "VERSION").write_text("fork point\n")
    git(repo, "add", "VERSION")
    git(repo, "commit", "-q", "-m", "fork point")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "VERSION").write_text("head\n")
    git(repo, "commit", "-q", "-am", "head")
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "main")
    (repo / "OTHER").write_text("main moved on\n")
    git(repo, "add", "OTHER")
    git(repo, "commit", "-q", "-m", "main moved on")
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", head)
    yield repo, base, head


class FakeHarness:
    """Stands in for `python -m ci_tools bench profile <p> ...` run in a tree."""

    def __init__(
        self,
        *,
        head_scale: dict[str, dict[str, float]] | None = None,
        fail: dict[tuple[str, str], int] | None = None,
        boots: int | None = None,
        short_first: tuple[str, ...] = (),
        fail_later: dict[tuple[str, str], int] | None = None,
    ) -> None:
        self.calls: list[tuple[str, str, str]] = []  # (profile, side, VERSION of the tree)
        self.boots_asked: list[tuple[str, str, int, int]] = []  # (profile, side, boots, first)
        self.head_scale = head_scale or {}
        self.fail = fail or {}
        self.boots = boots  # None: as many as asked
        self.short_first = short_first  # profiles whose first run makes 2 boots fewer
        self.fail_later = fail_later or {}  # (profile, side): exit code of its extra boots
        self.parsed: list[argparse.Namespace] = []  # each call's argv, parsed by the real CLI

    def __call__(self, tree: Path, argv: list[str]) -> int:
        # The argv as the real command line reads it: one it would refuse fails here.
        assert argv[:3] == [sys.executable, "-m", "ci_tools"]
        args = cli.build_parser().parse_args(argv[3:])
        assert (args.command, args.target, args.mode) == ("bench", "profile", "deterministic")
        self.parsed.append(args)
        profile = args.name
        out = args.output
        side = out.name.split(".")[1]
        version = (tree / "VERSION").read_text().strip()
        self.calls.append((profile, side, version))
        if (profile, side) in self.fail:
            return self.fail[(profile, side)]
        scale = self.head_scale.get(profile) if side == "head" else None
        asked, first = args.boots, args.first_boot
        self.boots_asked.append((profile, side, asked, first))
        if first and (profile, side) in self.fail_later:
            return self.fail_later[(profile, side)]
        made = self.boots or asked
        if profile in self.short_first and first == 0 and asked > 2:
            made -= 2  # as if two boots were lost: too few to decide at the first look
        document = make_result(
            boots=made, scale=scale, first_boot=first, profile=profile, kernel=version
        )
        document["provenance"]["git_commit"] = git(tree, "rev-parse", "HEAD")  # as bench does
        store.save(document, out)
        return 0


def _run(
    repo: Path, base: str, head: str, harness: FakeHarness, out: Path, max_boots: int = 24,
    history: str | None = None,
) -> int:  # fmt: skip
    options = measure.RunOptions(
        base=base, head=head, pr=42, repository=REPO, profiles=PROFILES, boots=8,
        max_boots=max_boots, output_dir=out, repo=repo, history=history,
    )  # fmt: skip
    return measure.run(options, run_side=harness)


@pytest.fixture
def summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "step-summary.md"
    path.write_text("")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return path


# -- bench-pr ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first_boot", "jobs", "shard"), [(0, 1, None), (8, 4, Shard(index=1, count=3))]
)
def test_bench_command_is_one_the_real_command_line_reads(
    first_boot: int, jobs: int, shard: Shard | None, tmp_path: Path
) -> None:
    argv = measure.bench_command(
        "balanced", tmp_path / "r.head.json", 12, first_boot=first_boot, jobs=jobs, shard=shard
    )
    assert argv[:3] == [sys.executable, "-m", "ci_tools"]
    args = cli.build_parser().parse_args(argv[3:])
    assert (args.command, args.target, args.name) == ("bench", "profile", "balanced")
    assert (args.mode, args.boots, args.first_boot, args.jobs) == (
        "deterministic", 12, first_boot, jobs,
    )  # fmt: skip
    assert args.output == (tmp_path / "r.head.json").resolve()
    assert args.shard == (None if shard is None else str(shard))


def test_base_and_head_alternate_and_the_base_is_the_merge_base(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    harness = FakeHarness()
    out = tmp_path / "bench-pr"
    assert _run(repo, base, head, harness, out) == ExitCode.OK
    assert [(p, s) for p, s, _ in harness.calls] == [
        ("fortress", "base"), ("fortress", "head"),
        ("balanced", "head"), ("balanced", "base"),
        ("performance", "base"), ("performance", "head"),
        ("ludicrous", "head"), ("ludicrous", "base"),
    ]  # fmt: skip
    # the base tree is the fork point, not the tip of main
    assert {v for _, s, v in harness.calls if s == "base"} == {"fork point"}
    assert {v for _, s, v in harness.calls if s == "head"} == {"head"}
    manifest = load_manifest(out)
    assert manifest["pr"] == 42 and manifest["head_sha"] == head and manifest["base_sha"] == base
    assert manifest["merge_base"] == git(repo, "merge-base", base, head)
    assert all(p[s]["state"] == "measured" for p in manifest["profiles"] for s in ("base", "head"))
    assert "worktree" not in git(repo, "worktree", "list").split("\n", 1)[-1]
    assert "## Benchmarks: no regression" in summary.read_text()
    assert (out / "summary.md").read_text() == summary.read_text()


def test_a_regression_fails_with_exit_code_1(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    harness = FakeHarness(head_scale={"balanced": {"getpid": 1.10}})
    assert _run(repo, base, head, harness, tmp_path / "out") == ExitCode.REGRESSION
    text = summary.read_text()
    assert "## Benchmarks: **regression**" in text
    assert "| balanced | regression |" in text and "| fortress | no regression |" in text


def test_too_few_boots_is_inconclusive_not_a_pass(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    # Two boots a side whatever is asked, and a budget of one look: undecided.
    harness = FakeHarness(boots=2)
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out, max_boots=8) == ExitCode.INCONCLUSIVE
    text = summary.read_text()
    assert "## Benchmarks: inconclusive" in text
    assert "not a proven regression" in text and "raise [gate] max_boots" in text
    assert len(load_manifest(out)["looks"]) == 1


def _stored(repo: Path, tmp_path: Path, commit: str, *, boots: int = 16,
            kernel: str = "fork point") -> str:  # fmt: skip
    """A history remote holding main's run of every profile at ``commit``; its path."""
    remote = tmp_path / "history.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    results = []
    for profile in PROFILES:
        document = make_result(boots=boots, profile=profile, kernel=kernel)
        document["provenance"]["git_commit"] = commit
        results.append(store.save(document, tmp_path / "stored" / f"{profile}.json"))
    info = commit_info(repo, commit)
    assert info is not None
    HistoryBranch(repo=repo, remote=str(remote)).record(from_results(results, info))
    return str(remote)


def test_the_merge_base_stored_on_main_is_reused_after_one_checking_boot(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    remote = _stored(repo, tmp_path, merge_base)
    harness = FakeHarness(head_scale={"balanced": {"getpid": 1.10}})
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out, history=remote) == ExitCode.REGRESSION
    # the base: its first stored boot measured again; the head: measured as ever
    assert sorted(a for a in harness.boots_asked if a[1] == "base") == [
        (p, "base", 1, 0) for p in sorted(PROFILES)
    ]
    assert {a for a in harness.boots_asked if a[1] == "head"} == {
        (p, "head", 8, 0) for p in PROFILES
    }
    manifest = load_manifest(out)
    for entry in manifest["profiles"]:
        assert entry["base"]["state"] == "measured"
        assert entry["base"]["baseline"].startswith(f"reused the stored run of {merge_base[:12]}")
        assert "boot 1 measured again here agrees within 0.5%" in entry["base"]["baseline"]
        reused = store.load(result_path(out, entry["name"], "base"))
        stored = store.load(tmp_path / "stored" / f"{entry['name']}.json")
        assert reused.data == stored.data  # main's run as it was stored, provenance and all
        assert (out / "results" / f"{entry['name']}.base.check.json").is_file()  # kept
    text = summary.read_text()
    assert "taken from main's stored runs" in text and "- fortress, merge base: `reused" in text
    assert "one of their boots measured again here gave the same figures" in text
    assert "| balanced | regression |" in text  # decided on the stored boots as ever
    # the regressed benchmark drawn over main's stored runs, the head's median last
    assert text.count("```mermaid") == 1 and "balanced, `getpid`:" in text
    chart = text.split("```mermaid", 1)[1].split("```", 1)[0]
    assert f'x-axis ["{merge_base[:7]}", "head"]' in chart
    base_median = store.load(tmp_path / "stored" / "balanced.json").median("getpid")  # main's
    head_median = store.load(result_path(out, "balanced", "head")).median("getpid")
    assert base_median is not None and head_median is not None
    assert f"line [{base_median:.6g}, {head_median:.6g}]" in chart


def test_a_stored_run_of_another_kernel_is_not_reused_and_the_comment_says_why(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    remote = _stored(repo, tmp_path, merge_base, kernel="built elsewhere")
    harness = FakeHarness()
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out, history=remote) == ExitCode.OK
    for profile in PROFILES:
        asked = [(n, k) for p, s, n, k in harness.boots_asked if (p, s) == (profile, "base")]
        assert asked == [(1, 0), (8, 0)]  # the checking boot, then the base measured here
    entry = load_manifest(out)["profiles"][0]
    assert entry["base"]["baseline"].startswith("measured here: stored run of fortress")
    assert "kernel: " in entry["base"]["baseline"]
    measured = store.load(result_path(out, "fortress", "base"))
    assert [b.index for b in measured.boots] == list(range(8))
    text = summary.read_text()
    assert "both measured on one runner" in text and "measured here: stored run" in text


def _record(repo: Path, tmp_path: Path, commit: str, documents: list[dict[str, Any]]) -> str:
    """``documents`` stored as main's runs of ``commit`` on a history remote; its path."""
    remote = tmp_path / "history.git"
    if not remote.exists():
        git(tmp_path, "init", "-q", "--bare", str(remote))
    results = []
    for i, document in enumerate(documents):
        document["provenance"]["git_commit"] = commit
        folder = tmp_path / "stored" / str(len(list((tmp_path / "stored").glob("*"))) + i)
        results.append(store.save(document, folder / "run.json"))
    info = commit_info(repo, commit)
    assert info is not None
    HistoryBranch(repo=repo, remote=str(remote)).record(from_results(results, info))
    return str(remote)


def _shard_of(document: dict[str, Any], keep: set[int]) -> dict[str, Any]:
    part = copy.deepcopy(document)
    part["boots"] = [b for b in part["boots"] if b["index"] in keep]
    part["setup"]["boots"] = len(part["boots"])
    for bench in part["benchmarks"].values():
        bench["samples"] = [s for s in bench["samples"] if s["boot"] in keep]
    return part


def test_a_stored_run_whose_boot_measures_otherwise_now_is_not_reused(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    """Same kernel, bench and setup on paper; the harness now measures 2% more (say a
    changed boot route): the stored base would fake a 2% improvement or hide a slowdown."""
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    stored = [make_result(boots=16, profile=p, kernel="fork point", scale={"stat": 1 / 1.02})
              for p in PROFILES]  # fmt: skip
    remote = _record(repo, tmp_path, merge_base, stored)
    out = tmp_path / "out"
    assert _run(repo, base, head, FakeHarness(), out, history=remote) == ExitCode.OK
    why = load_manifest(out)["profiles"][0]["base"]["baseline"]
    assert (
        why.startswith("measured here: stored run of fortress") and "boot 1 measured again" in why
    )
    assert "stat" in why and "+2.0%" in why
    assert "both measured on one runner" in summary.read_text()


@pytest.mark.parametrize("stored_as", ["a shard", "a longer run measured otherwise"])
def test_reused_bases_grow_from_the_boots_they_hold(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path, stored_as: str
) -> None:
    """Later looks number new base boots after the highest index the reused run holds,
    whatever runs of that commit the history has."""
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    if stored_as == "a shard":  # boots 0, 2, ..., 30
        runs = [_shard_of(make_result(boots=32, profile=p, kernel="fork point"),
                          set(range(0, 32, 2))) for p in PROFILES]  # fmt: skip
    else:  # an older run of 24 boots of another kernel, then the matching one of 16
        runs = [make_result(boots=24, profile=p, kernel="other") for p in PROFILES]
        _record(repo, tmp_path, merge_base, runs)
        runs = [make_result(boots=16, profile=p, kernel="fork point") for p in PROFILES]
    remote = _record(repo, tmp_path, merge_base, runs)
    # a head about 1% slower in getpid: at its threshold, so fortress stays undecided
    harness = FakeHarness(head_scale={"fortress": {"getpid": 1.01}})
    out = tmp_path / "out"
    _run(repo, base, head, harness, out, max_boots=40, history=remote)
    looks = load_manifest(out)["looks"]
    assert len(looks) >= 2 and looks[-1]["boots"] > 16  # the base grew past what was stored
    indices = [b.index for b in store.load(result_path(out, "fortress", "base")).boots]
    assert len(indices) == len(set(indices)) == looks[-1]["boots"]
    stored_indices = range(0, 32, 2) if stored_as == "a shard" else range(16)
    assert indices[: len(stored_indices)] == list(stored_indices)
    assert min(indices[len(stored_indices) :]) == max(stored_indices) + 1


def test_a_stored_run_too_short_for_the_first_look_is_not_reused(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    remote = _stored(repo, tmp_path, merge_base, boots=3)
    harness = FakeHarness()
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out, history=remote) == ExitCode.OK
    assert {(n, k) for _, s, n, k in harness.boots_asked if s == "base"} == {(8, 0)}  # no check
    why = load_manifest(out)["profiles"][0]["base"]["baseline"]
    assert (
        why
        == "measured here: the stored runs of fortress have 3 boots at most; the first look needs 8"
    )
    assert (out / "summary.md").read_text() == evaluate(out).markdown()  # replayed as decided


def test_a_stored_run_measured_very_differently_is_said_in_a_sentence_that_fits(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    runs = []
    for p in PROFILES:
        d = make_result(boots=16, profile=p, kernel="fork point")
        d["setup"]["quick"] = False
        d["setup"]["qemu"]["version"] = "8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)"
        d["provenance"]["ci_tools_version"] = "0.0.9"
        for bench in d["benchmarks"].values():
            for sample in bench["samples"]:
                sample["iterations"] *= 10
                sample["total_ns"] *= 10
        d["target"]["bench_binary"]["sha256"] = "f" * 64
        runs.append(d)
    remote = _record(repo, tmp_path, merge_base, runs)
    out = tmp_path / "out"
    assert _run(repo, base, head, FakeHarness(), out, history=remote) == ExitCode.OK
    why = load_manifest(out)["profiles"][0]["base"]["baseline"]
    assert len(why) <= 500 and "measured differently" in why and "more)" in why


def test_a_head_measured_alone_takes_every_job(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    merge_base = git(repo, "merge-base", base, head)
    remote = _stored(repo, tmp_path, merge_base, boots=24)
    harness = FakeHarness(short_first=("balanced",), head_scale={"balanced": {"stat": 1.10}})
    jobs: dict[str, int] = {}

    def side(tree: Path, argv: list[str]) -> int:
        jobs[Path(argv[argv.index("--output") + 1]).name] = int(argv[argv.index("--jobs") + 1])
        return harness(tree, argv)

    options = measure.RunOptions(
        base=base, head=head, pr=42, repository=REPO, profiles=PROFILES, boots=8,
        max_boots=24, output_dir=tmp_path / "out", repo=repo, history=remote, jobs=4,
    )  # fmt: skip
    assert measure.run(options, run_side=side) == ExitCode.REGRESSION
    # beside the base's checking boot, and alone at the later look (the base has 24)
    assert jobs["balanced.head.json"] == 4 and jobs["balanced.head.look2.json"] == 4
    assert jobs["balanced.base.check.json"] == 4 and "balanced.base.look2.json" not in jobs


def test_a_shard_measures_its_share_and_gives_no_verdict(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    from ci_tools.bench.schedule import Shard

    repo, base, head = pr_repo
    harness = FakeHarness(head_scale={"balanced": {"getpid": 1.10}})
    options = measure.RunOptions(
        base=base, head=head, pr=42, repository=REPO, profiles=PROFILES,
        max_boots=24, output_dir=tmp_path / "s1", repo=repo, shard=Shard(index=1, count=2),
    )  # fmt: skip
    shards: list[str] = []

    def side(tree: Path, argv: list[str]) -> int:
        shards.append(argv[argv.index("--shard") + 1])
        return harness(tree, argv)

    assert measure.run(options, run_side=side) == ExitCode.OK
    text = summary.read_text()
    assert text.startswith("## Benchmarks: shard 1/2 measured, no verdict")
    assert "regression" not in text
    assert {(n, k) for _, _, n, k in harness.boots_asked} == {(24, 0)}  # the budget, one look
    assert set(shards) == {"1/2"} and len(shards) == 2 * len(PROFILES)


def test_a_folder_missing_a_shard_is_inconclusive_not_decided(artifact: Path) -> None:
    path = result_path(artifact, "balanced", "head")
    path.write_text(json.dumps(_shard_of(json.loads(path.read_text()), set(range(0, 8, 2)))))
    report = evaluate(artifact)
    balanced = next(o for o in report.outcomes if o.profile == "balanced")
    assert balanced.code == ExitCode.INCONCLUSIVE
    assert "balanced: a side holds 4 boots, its last look 8" in report.markdown()


@pytest.mark.parametrize("remote", ["empty", "missing"])
def test_without_a_stored_run_both_sides_are_measured_and_the_gate_goes_on(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path, remote: str
) -> None:
    repo, base, head = pr_repo
    where = tmp_path / "history.git"
    if remote == "empty":
        git(tmp_path, "init", "-q", "--bare", str(where))
    harness = FakeHarness()
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out, history=str(where)) == ExitCode.OK
    assert {(n, k) for p, s, n, k in harness.boots_asked} == {(8, 0)}
    why = load_manifest(out)["profiles"][0]["base"]["baseline"]
    if remote == "empty":
        assert (
            why == f"measured here: no run of {git(repo, 'merge-base', base, head)[:12]} is stored"
        )
    else:
        assert why.startswith(f"measured here: the history on {where} could not be read (a ")


def test_a_second_look_measures_only_the_undecided_profile(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    harness = FakeHarness(short_first=("balanced",), head_scale={"balanced": {"stat": 1.10}})
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out) == ExitCode.REGRESSION
    # look 1: every profile, 8 boots asked; look 2: balanced alone, from its 7th boot on
    first, later = harness.boots_asked[:8], harness.boots_asked[8:]
    assert {(p, n, k) for p, _, n, k in first} == {(p, 8, 0) for p in PROFILES}
    assert sorted(later) == [("balanced", "base", 6, 6), ("balanced", "head", 6, 6)]
    looks = load_manifest(out)["looks"]
    assert [(k["boots"], k["profiles"]) for k in looks] == [(8, list(PROFILES)), (12, ["balanced"])]
    assert sum(k["alpha"] for k in looks) < 0.01
    joined = store.load(result_path(out, "balanced", "head"))
    assert [b["index"] for b in joined.data["boots"]] == list(range(12))
    assert (out / "results" / "balanced.head.look2.json").exists()  # the measured part is kept
    text = summary.read_text()
    assert "| balanced | regression |" in text and "| fortress | no regression |" in text
    assert "Adaptive sampling: looks at 8" in text


def test_extra_boots_that_fail_leave_the_earlier_look_standing(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo, base, head = pr_repo
    harness = FakeHarness(
        short_first=("balanced",), fail_later={("balanced", "head"): int(ExitCode.HANG)}
    )
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out) == ExitCode.INCONCLUSIVE
    assert "balanced, head: the extra boots of look 2 failed" in capsys.readouterr().err
    manifest = load_manifest(out)
    assert [k["profiles"] for k in manifest["looks"]] == [list(PROFILES), []]
    assert manifest["profiles"][1]["head"]["state"] == "measured"
    # the earlier boots are kept, not joined with half a look
    assert len(store.load(result_path(out, "balanced", "base")).data["boots"]) == 6
    assert "| balanced | inconclusive |" in summary.read_text()


def test_inconclusive_fails_by_default_and_passes_with_a_warning_when_configured(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    repo, base, head = pr_repo
    harness = FakeHarness(boots=2)
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out, max_boots=8) == ExitCode.INCONCLUSIVE
    failing = evaluate(out, inconclusive="fail")
    assert (failing.exit_code, failing.verdict_code) == (ExitCode.INCONCLUSIVE,) * 2
    assert "the check fails" in failing.header()
    capsys.readouterr()
    failing.annotate()
    assert (
        "error: fortress: inconclusive after 8 boots per side: this is not a proven regression"
        in capsys.readouterr().err
    )
    passing = evaluate(out, inconclusive="warn")
    assert passing.exit_code == ExitCode.OK
    assert passing.verdict_code == ExitCode.INCONCLUSIVE
    assert "## Benchmarks: inconclusive" in passing.header()
    assert "passes with this warning" in passing.header()
    passing.annotate()
    assert "warning: fortress: inconclusive" in capsys.readouterr().err


def test_the_repositorys_gate_config_sets_the_budget_and_the_policy(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    shipped = (REPO_ROOT / "ci_tools.toml").read_text()
    assert "\n[gate]" in shipped
    gate = 'min_boots = 8\nmax_boots = 8\ninconclusive = "warn"\n'
    (repo / "ci_tools.toml").write_text(shipped.replace("\n[gate]", f"\n[gate]\n{gate}", 1)
                                        .replace("max_boots = 24", "").replace(
                                            'inconclusive = "fail"', ""))  # fmt: skip
    options = measure.RunOptions(
        base=base, head=head, pr=42, repository=REPO, profiles=PROFILES, output_dir=tmp_path / "o",
        repo=repo,
    )  # fmt: skip
    assert measure.run(options, run_side=FakeHarness(boots=2)) == ExitCode.OK
    assert len(load_manifest(tmp_path / "o")["looks"]) == 1
    assert "## Benchmarks: inconclusive" in summary.read_text()


def test_an_infrastructure_failure_is_reported_as_such(
    pr_repo: tuple[Path, str, str],
    tmp_path: Path,
    summary: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    repo, base, head = pr_repo
    harness = FakeHarness(fail={("performance", "head"): int(ExitCode.QEMU_FAILED)})
    out = tmp_path / "out"
    assert _run(repo, base, head, harness, out) == ExitCode.QEMU_FAILED
    text = summary.read_text()
    assert "| performance | could not measure head |" in text
    assert "`exit code 15 (qemu-failed)`" in text
    assert "not performance verdicts" in text
    assert "regression" not in text.split("### Not compared")[0].replace("no regression", "")
    assert "not a performance regression" in capsys.readouterr().err
    assert load_manifest(out)["profiles"][2]["head"]["exit_code"] == 15


def test_a_regression_outranks_an_infrastructure_failure(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    harness = FakeHarness(
        head_scale={"fortress": {"stat": 1.2}}, fail={("ludicrous", "base"): int(ExitCode.HANG)}
    )
    assert _run(repo, base, head, harness, tmp_path / "out") == ExitCode.REGRESSION


def test_the_head_must_be_checked_out(
    pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path
) -> None:
    repo, base, head = pr_repo
    with pytest.raises(BadInputError, match="not the PR head"):
        _run(repo, head, base, FakeHarness(), tmp_path / "out")


def test_options_come_from_the_pull_request_event(monkeypatch: pytest.MonkeyPatch) -> None:
    events = FIXTURES / "events"
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(events / "pull_request.synchronize.json"))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    options = measure.main_options(
        base=None, head=None, pr=None, profiles=[], boots=3,
        output_dir=Path("o"), work_dir=None,
    )  # fmt: skip
    assert (options.pr, options.repository, options.boots) == (42, REPO, 3)
    assert measure.main_options(base="a", head="b", pr=1, profiles=[], boots=None,
                                output_dir=Path("o"), work_dir=None).boots is None  # fmt: skip
    assert options.head == "4e1c0a9b7d2f3e5a6b8c9d0e1f2a3b4c5d6e7f80"
    with pytest.raises(BadInputError, match="invalid profile"):
        measure.main_options(
            base="a", head="b", pr=1, profiles=["../x"], boots=1,
            output_dir=Path("o"), work_dir=None,
        )  # fmt: skip


def test_the_harness_runs_our_ci_tools_not_the_trees() -> None:
    argv = measure.bench_command("fortress", Path("out.json"), 5)
    assert argv[1:6] == ["-m", "ci_tools", "bench", "profile", "fortress"]
    env = measure.harness_env()
    assert env["PYTHONSAFEPATH"] == "1"
    assert env["PYTHONPATH"].split(":")[0] == str(Path(ci_tools.__file__).parent.parent)


# -- the artifact is untrusted -----------------------------------------------------------


@pytest.fixture
def artifact(pr_repo: tuple[Path, str, str], tmp_path: Path, summary: Path) -> Path:
    repo, base, head = pr_repo
    out = tmp_path / "artifact"
    _run(repo, base, head, FakeHarness(head_scale={"ludicrous": {"pipe": 1.15}}), out)
    summary.write_text("")
    return out


def _edit_manifest(folder: Path, change: dict[str, Any]) -> None:
    path = folder / MANIFEST
    manifest = json.loads(path.read_text())
    manifest.update(change)
    path.write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "change",
    [
        {"pr": "42; rm -rf /"},
        {"pr": 0},
        {"head_sha": "HEAD"},
        {"profiles": [{"name": "../../etc/passwd", "base": {"state": "measured"},
                       "head": {"state": "measured"}}]},
        {"extra": "key"},
        {"looks": [{"boots": 8, "alpha": 1.5, "profiles": []}]},
        {"looks": [{"boots": 8, "alpha": 0.01, "profiles": ["../x"]}]},
    ],
)  # fmt: skip
def test_a_tampered_manifest_is_refused(artifact: Path, change: dict[str, Any]) -> None:
    _edit_manifest(artifact, change)
    with pytest.raises(BadInputError, match=r"bench-pr-v1\.schema\.json"):
        evaluate(artifact)


@pytest.mark.parametrize(
    "looks",
    [
        [
            {"boots": 8, "alpha": 0.009, "profiles": []},
            {"boots": 12, "alpha": 0.009, "profiles": []},
        ],
        [
            {"boots": 12, "alpha": 0.001, "profiles": []},
            {"boots": 8, "alpha": 0.001, "profiles": []},
        ],
    ],
)
def test_looks_that_spend_too_much_or_shrink_are_refused(
    artifact: Path, looks: list[dict[str, Any]]
) -> None:
    _edit_manifest(artifact, {"looks": looks})
    with pytest.raises(BadInputError, match="spend more than the gate's alpha"):
        evaluate(artifact)


def test_a_tampered_result_cannot_be_compared(artifact: Path) -> None:
    path = result_path(artifact, "fortress", "head")
    document = json.loads(path.read_text())
    document["benchmarks"]["getpid"]["samples"][0]["total_ns"] = "fast"
    path.write_text(json.dumps(document))
    report = evaluate(artifact)
    assert (report.outcomes[0].code, report.outcomes[0].verdict) == (3, "could not compare")
    assert report.exit_code == ExitCode.REGRESSION  # ludicrous' regression outranks it
    assert "schema error" in report.markdown()


def test_text_from_the_artifact_cannot_inject_markdown(artifact: Path) -> None:
    manifest = json.loads((artifact / MANIFEST).read_text())
    manifest["profiles"][0]["head"] = {
        "state": "failed",
        "exit_code": 13,
        "reason": "hang `@levkropp/maintainers` [click](https://evil.example)\n# heading "
        "owner/repo#1 www.evil.example ![i](https://evil.example/i.png)",
    }
    (artifact / MANIFEST).write_text(json.dumps(manifest))
    text = evaluate(artifact).markdown()
    line = next(line for line in text.splitlines() if "fortress, head" in line)
    assert line == (
        "- fortress, head: ``hang `@levkropp/maintainers` [click](https://evil.example) # heading "
        "owner/repo#1 www.evil.example ![i](https://evil.example/i.png)``"
    )
    rendered = render(text)
    assert links(rendered) == [] and references(rendered) == []


def test_the_comment_links_nothing_from_the_results(
    fake: FakeGitHub, artifact: Path, monkeypatch: pytest.MonkeyPatch, summary: Path
) -> None:
    """Names and reasons inside result files, in the comment as GitHub renders it."""
    evil = "x [click](https://evil.example) https://evil.example @user owner/repo#1 GH-2"
    path = result_path(artifact, "balanced", "head")
    document = json.loads(path.read_text())
    document["skipped"] = [{"name": "getpid", "boot": 0, "round": 1, "reason": evil}]
    document["status"] = {"state": "incomplete", "kind": "hang", "reason": evil}
    store.save(document, path)
    assert _comment(fake, artifact, monkeypatch) == ExitCode.OK
    (body,) = fake.bodies(REPO, 42)
    assert body.count("evil.example") >= 2  # the reasons are shown, as text
    rendered = render(body)
    assert links(rendered) == ["https://github.com/levkropp/kevlar/actions/runs/1"]
    assert references(rendered) == []


def test_a_run_cannot_borrow_a_verdicts_exit_code(artifact: Path) -> None:
    manifest = json.loads((artifact / MANIFEST).read_text())
    manifest["profiles"][1]["base"] = {"state": "failed", "exit_code": 0, "reason": "ok"}
    (artifact / MANIFEST).write_text(json.dumps(manifest))
    report = evaluate(artifact)
    assert report.outcomes[1].code == ExitCode.HARNESS
    assert report.exit_code == ExitCode.REGRESSION  # ludicrous' pipe regression still counts


# -- the comment command on an artifact --------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve() as server:
        yield server


def _comment(
    fake: FakeGitHub,
    artifact: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    head_sha: str | None = None,
    label: str = "contributor:main",
) -> int:
    head_sha = head_sha or json.loads((artifact / MANIFEST).read_text())["head_sha"]
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    fake.add_pull(REPO, 42, head_sha=head_sha, head_label="contributor:main")
    return cli.main(
        ["comment", "--bench-dir", str(artifact), "--expect-head-sha", head_sha,
         "--head-label", label,
         "--details-url", "https://github.com/levkropp/kevlar/actions/runs/1"]
    )  # fmt: skip


def test_comment_twice_leaves_one_comment_with_the_new_table(
    fake: FakeGitHub, artifact: Path, monkeypatch: pytest.MonkeyPatch, summary: Path
) -> None:
    assert _comment(fake, artifact, monkeypatch) == ExitCode.OK
    (first,) = fake.bodies(REPO, 42)
    assert "| ludicrous | regression |" in first
    # a new push: ludicrous is fixed, fortress regresses
    for profile, scale in (("ludicrous", None), ("fortress", {"stat": 1.3})):
        store.save(make_result(scale=scale), result_path(artifact, profile, "head"))
    assert _comment(fake, artifact, monkeypatch) == ExitCode.OK
    (body,) = fake.bodies(REPO, 42)
    assert body.startswith(comment.MARKER)
    assert "| fortress | regression |" in body and "| ludicrous | no regression |" in body
    assert "`stat (fortress.head.json)`" in body and "**REGRESSION**" in body
    assert (
        "Full results: [the job summary](https://github.com/levkropp/kevlar/actions/runs/1)" in body
    )
    assert len(fake.requests_for("POST")) == 1 and len(fake.requests_for("PATCH")) == 1


def test_the_comment_links_the_history_report_and_goes_on_without_a_history(
    fake: FakeGitHub,
    artifact: Path,
    monkeypatch: pytest.MonkeyPatch,
    summary: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    head_sha = json.loads((artifact / MANIFEST).read_text())["head_sha"]
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.chdir(tmp_path)
    git(tmp_path, "init", "-q")
    fake.add_pull(REPO, 42, head_sha=head_sha, head_label="contributor:main")
    code = cli.main(
        ["comment", "--bench-dir", str(artifact), "--expect-head-sha", head_sha,
         "--head-label", "contributor:main", "--history", str(tmp_path / "no-such.git"),
         "--report-url", "https://levkropp.github.io/kevlar/history/"]
    )  # fmt: skip
    assert code == ExitCode.OK  # the verdicts stand without main's history
    assert "no charts" in capsys.readouterr().err
    (body,) = fake.bodies(REPO, 42)
    assert "```mermaid" not in body
    assert "[The history of main](https://levkropp.github.io/kevlar/history/)" in body
    assert "https://levkropp.github.io/kevlar/history/" in links(render(body))


def test_results_for_another_commit_are_refused(
    fake: FakeGitHub, artifact: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.setenv("GITHUB_API_URL", fake.url)
    code = cli.main(
        ["comment", "--repo", REPO, "--bench-dir", str(artifact), "--expect-head-sha", "f" * 40]
    )
    assert code == ExitCode.BAD_INPUT
    assert fake.requests == []


def test_the_first_look_lets_the_whole_matrix_reach_a_verdict() -> None:
    from ci_tools.compare import stats

    gate = config.GateConfig()
    options = measure.RunOptions(base="a", head="b", pr=1)
    the_plan = measure.gate_plan(len(PROFILES), gate, options)
    rows = len(PROFILES) * 8
    first = the_plan.looks[0]
    assert stats.min_attainable_p(first.boots, first.boots) <= first.alpha / rows
    assert stats.min_attainable_p(first.boots - 1, first.boots - 1) > first.alpha / rows
    # A min_boots below that is raised; one above it is kept.
    asked = measure.RunOptions(base="a", head="b", pr=1, boots=3)
    assert measure.gate_plan(len(PROFILES), gate, asked).min_boots == first.boots
    more = config.GateConfig(min_boots=first.boots + 3, max_boots=40)
    assert measure.gate_plan(len(PROFILES), more, options).min_boots == first.boots + 3
    assert measure.gate_plan(len(PROFILES), more, options).max_boots == 40
    # Worked out by hand: the first look spends alpha 0.005 of 0.01; over 32 rows a row
    # needs p <= 1.56e-4, so C(2n, n) >= 6400: 8 boots (C(16, 8) = 12870, C(14, 7) = 3432).
    assert (first.boots, first.alpha) == (8, pytest.approx(0.005))
    # 64 profiles, 512 rows: C(2n, n) >= 102400, so 10 boots (C(20, 10) = 184756).
    assert measure.gate_plan(64, gate, options).min_boots == 10


def test_the_manifest_schema_is_a_valid_json_schema() -> None:
    import jsonschema

    from ci_tools.util import schemas

    jsonschema.Draft202012Validator.check_schema(schemas.load_schema(MANIFEST_SCHEMA))


# -- a hostile artifact: exit 3, the job summary says why, never a traceback ---------------


def _sparse(path: Path, size: int) -> None:
    path.unlink()
    with path.open("wb") as fh:
        fh.truncate(size)


def _symlink_out(path: Path) -> None:
    target = path.parent.parent.parent / "elsewhere.json"
    target.write_text(path.read_text())
    path.unlink()
    path.symlink_to(target)


BAD_FILES = {
    "int-limit": lambda p: p.write_text("1" * 5000),
    "recursion": lambda p: p.write_text("[" * 200_000),
    "invalid-utf8": lambda p: p.write_bytes(b'{"schema_version": 1, "x": "\xff"}'),
    "deep-nesting": lambda p: p.write_text('{"a": ' * 100 + "1" + "}" * 100),
    "too-large": lambda p: _sparse(p, 300_000_000),
    "symlink": _symlink_out,
    "fifo": lambda p: (p.unlink(), os.mkfifo(p)),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_hostile_result_file_is_exit_3_with_the_comment_saying_so(
    kind: str,
    fake: FakeGitHub,
    artifact: Path,
    monkeypatch: pytest.MonkeyPatch,
    summary: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    BAD_FILES[kind](result_path(artifact, "fortress", "head"))
    assert _comment(fake, artifact, monkeypatch) == ExitCode.BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err
    (body,) = fake.bodies(REPO, 42)
    assert "| fortress | could not compare |" in body
    assert "| ludicrous | regression |" in body  # the rest is still compared
    assert "### Benchmark artifact refused" in summary.read_text()


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_hostile_manifest_posts_nothing_and_says_why_in_the_summary(
    kind: str,
    fake: FakeGitHub,
    artifact: Path,
    monkeypatch: pytest.MonkeyPatch,
    summary: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    head_sha = json.loads((artifact / MANIFEST).read_text())["head_sha"]
    BAD_FILES[kind](artifact / MANIFEST)
    code = _comment(fake, artifact, monkeypatch, head_sha=head_sha)
    assert code == ExitCode.BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err
    assert fake.requests == []
    text = summary.read_text()
    assert "### Benchmark artifact refused" in text and "manifest.json" in text
    assert "No comment was posted." in text


def test_a_linked_results_folder_is_refused(
    fake: FakeGitHub, artifact: Path, monkeypatch: pytest.MonkeyPatch, summary: Path
) -> None:
    elsewhere = artifact.parent / "elsewhere"
    (artifact / "results").rename(elsewhere)
    (artifact / "results").symlink_to(elsewhere)
    assert _comment(fake, artifact, monkeypatch) == ExitCode.BAD_INPUT
    (body,) = fake.bodies(REPO, 42)
    assert body.count("could not compare") == len(PROFILES)
    assert "symbolic link" in summary.read_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_comment_without_posting(
    sig: signal.Signals,
    fake: FakeGitHub,
    artifact: Path,
    monkeypatch: pytest.MonkeyPatch,
    summary: Path,
) -> None:
    """The signal arrives while the artifact is read (as a runner's cancel would)."""
    real_load = store.load

    def load_then_signal(path: Path, **kwargs: Any) -> Any:
        os.kill(os.getpid(), sig)
        return real_load(path, **kwargs)

    monkeypatch.setattr(store, "load", load_then_signal)
    previous = signal.getsignal(signal.SIGTERM)
    try:
        assert _comment(fake, artifact, monkeypatch) == ExitCode.INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert fake.requests_for("POST") == [] and fake.requests_for("PATCH") == []


def test_a_forks_branch_name_makes_no_link_in_the_summary(
    fake: FakeGitHub, artifact: Path, monkeypatch: pytest.MonkeyPatch, summary: Path
) -> None:
    label = "evil:[x](https://evil.example)@user#1"
    assert _comment(fake, artifact, monkeypatch, label=label) == ExitCode.OK
    text = summary.read_text()
    assert "no open PR has head" in text
    rendered = render(text)
    assert links(rendered) == [] and references(rendered) == []
