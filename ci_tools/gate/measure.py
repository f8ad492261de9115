"""A pull request's benchmarks: its merge base and its head, on one runner.

``run`` (``python -m ci_tools bench-pr``) checks the merge base out in a git
worktree next to the head checkout and runs ``bench profile <p>`` for every
profile of the config against each tree, alternating which goes first, in
deterministic mode.  The measuring harness is always the running ci_tools
(the head's), so only the kernel differs between the two sides.  Everything
lands in one folder (``gate.manifest``), the artifact the comment workflow
downloads; ``gate.evaluate`` reads it back as untrusted input.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ci_tools
from ci_tools import config, output
from ci_tools.bench.run import CORE_BENCHMARKS
from ci_tools.bench.schedule import Shard, cpus
from ci_tools.compare import decide, stats
from ci_tools.errors import BadInputError, ExitCode
from ci_tools.gate.evaluate import evaluate
from ci_tools.gate.manifest import MANIFEST, SIDES, check_profile_name, result_path, write_manifest
from ci_tools.github.event import read_event
from ci_tools.util import files, proc
from ci_tools.util.git import git

# --------------------------------------------------------------------------
# Running both sides


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    base: str  # the PR's base commit (any commit on the base branch)
    head: str  # the PR's head commit, checked out in ``repo``
    pr: int
    repository: str | None = None
    profiles: tuple[str, ...] = ()  # empty: every profile of the repository's config
    boots: int | None = None  # None: enough for the whole matrix to reach a verdict
    output_dir: Path = Path("bench-pr")
    work_dir: Path | None = None
    repo: Path = Path()
    jobs: int | None = None  # boots at once over both sides; None: one per CPU
    shard: Shard | None = None  # measure this shard of each side's boots (``ci_tools merge``)


def config_profiles(repo: Path) -> list[str]:
    """The profiles of ``repo``'s config (the one its nox sessions are generated from)."""
    return list(config.load(repo / config.default_path(), check_paths=False).profile_names)


DETECTION_BOOTS = 16


def default_boots(profiles: int) -> int:
    """Boots per side with which every row of the matrix can reach a verdict.

    ``compare`` tests every benchmark of every profile as one Holm family;
    with fewer boots even an unmistakable change stays "inconclusive".
    """
    # 16 boots a side: benchmarks/evaluate_gate.py measured 0/400 false-alarm
    # tables and 92% detection of a 5% slowdown (7 of 8 benchmarks >= 98%) at
    # about 6 minutes of runner time per profile; 8 detected only 84%.
    needed = stats.boots_needed(profiles * len(CORE_BENCHMARKS), decide.DEFAULT_ALPHA)
    return max(needed, DETECTION_BOOTS)


def bench_command(
    profile: str, out: Path, boots: int, *, jobs: int = 1, shard: Shard | None = None
) -> list[str]:
    """The harness call for one side: the running ci_tools, whatever the tree holds."""
    return [
        sys.executable, "-m", "ci_tools", "bench", "profile", profile,
        "--mode", "deterministic", "--boots", str(boots), "--output", str(out.resolve()),
        "--jobs", str(jobs), *(("--shard", str(shard)) if shard is not None else ()),
    ]  # fmt: skip


def harness_env() -> dict[str, str]:
    """The environment of a side's run: the running ci_tools, not the tree's."""
    # ``python -m`` puts the working directory first on sys.path, so in the
    # base tree of ci_tools' own repository the *base* ci_tools would run.
    # PYTHONSAFEPATH (3.11+) drops that entry; PYTHONPATH points at ours.
    ours = str(Path(ci_tools.__file__).resolve().parent.parent)
    paths = [ours, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONSAFEPATH": "1", "PYTHONPATH": os.pathsep.join(paths)}


def run(
    options: RunOptions,
    *,
    run_side: Callable[[Path, list[str]], int] | None = None,
) -> int:
    """Measure base and head, write the artifact folder, report; returns the exit code.

    With more than one job the two sides of a profile run at the same time, the
    jobs split between them (``run_side``, given, runs them one after the other)."""
    jobs = options.jobs or cpus()
    side_jobs = max(1, jobs // 2)

    def run_sides(commands: list[tuple[Path, list[str]]]) -> list[int]:
        if run_side is None and jobs > 1:
            return proc.run_all(commands, env=harness_env())
        return [(run_side or _run_side)(tree, argv) for tree, argv in commands]

    out = options.output_dir
    repo = options.repo.resolve()
    (out / "results").mkdir(parents=True, exist_ok=True)
    with output.group("merge base"):
        merge_base = git(repo, "merge-base", options.base, options.head)
        head_now = git(repo, "rev-parse", "HEAD")
        if head_now != git(repo, "rev-parse", options.head):
            raise BadInputError(
                f"{repo} has {head_now[:12]} checked out, not the PR head {options.head[:12]}",
                hint="check out the PR head (actions/checkout with ref: the head sha)",
            )
        output.info(f"head {options.head[:12]}, merge base {merge_base[:12]}")
    profiles = list(options.profiles) or config_profiles(repo)
    boots = options.boots or default_boots(len(profiles))
    manifest: dict[str, Any] = {
        "format": "ci_tools-bench-pr",
        "version": 1,
        "pr": options.pr,
        "repository": options.repository,
        "base_sha": git(repo, "rev-parse", options.base),
        "merge_base": merge_base,
        "head_sha": head_now,
        "boots": boots,
        "profiles": [
            {"name": p, "base": {"state": "pending"}, "head": {"state": "pending"}}
            for p in profiles
        ],
    }
    write_manifest(out / MANIFEST, manifest)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="ci_tools-bench-pr-"))
    base_tree = work / "base"
    if base_tree.exists():
        git(repo, "worktree", "remove", "--force", str(base_tree))
    git(repo, "worktree", "add", "--detach", str(base_tree), merge_base)
    trees = {"base": base_tree, "head": repo}
    try:
        for index, entry in enumerate(manifest["profiles"]):
            order = SIDES if index % 2 == 0 else SIDES[::-1]
            commands = []
            for side in order:
                result = result_path(out, entry["name"], side)
                result.unlink(missing_ok=True)
                argv = bench_command(entry["name"], result, boots, jobs=side_jobs,
                                     shard=options.shard)  # fmt: skip
                # No ::group:: here: the harness prints its own, and GitHub
                # does not nest them.
                output.phase(f"{entry['name']}: {side} ({trees[side]})")
                commands.append((trees[side], argv))
            for side, code in zip(order, run_sides(commands), strict=True):
                entry[side] = _side_state(code, result_path(out, entry["name"], side))
            write_manifest(out / MANIFEST, manifest)
    finally:
        git(repo, "worktree", "remove", "--force", str(base_tree))
        if options.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    report = evaluate(out)
    markdown = report.markdown()
    files.write_atomic(out / "summary.md", markdown)
    output.append_summary(markdown)
    print(markdown)
    report.annotate()
    return report.exit_code


def _run_side(tree: Path, argv: list[str]) -> int:
    return proc.run(argv, cwd=tree, env=harness_env(), capture=False, check=False).returncode


def _side_state(code: int, result: Path) -> dict[str, Any]:
    if code == 0 and result.exists():
        return {"state": "measured"}
    try:
        name = ExitCode(code).name.lower().replace("_", "-")
    except ValueError:
        name = "unknown"
    reason = f"exit code {code} ({name})"
    if code == 0:
        reason = "the harness exited 0 but wrote no result file"
    return {"state": "failed", "exit_code": code, "reason": reason}


def main_options(
    *,
    base: str | None,
    head: str | None,
    pr: int | None,
    profiles: Sequence[str],
    boots: int | None,
    output_dir: Path,
    work_dir: Path | None,
    jobs: int | None = None,
    shard: Shard | None = None,
) -> RunOptions:
    """Fill what the command line left out from the pull_request event."""
    repository = os.environ.get("GITHUB_REPOSITORY")
    if base is None or head is None or pr is None:
        found = read_event()
        base = base or found.base_sha
        head = head or found.head_sha
        pr = pr or found.number
        repository = found.repository
    if not base or not head or not pr:
        raise BadInputError("need --base, --head and --pr (or a pull_request event)")
    for name in profiles:
        check_profile_name(name)
    return RunOptions(
        base=base,
        head=head,
        pr=pr,
        repository=repository,
        profiles=tuple(profiles),
        boots=boots,
        output_dir=output_dir,
        work_dir=work_dir,
        jobs=jobs,
        shard=shard,
    )
