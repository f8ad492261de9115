"""A pull request's benchmarks: its merge base and its head, on one runner.

``run`` (``python -m ci_tools bench-pr``) checks the merge base out in a git
worktree next to the head checkout and runs ``bench profile <p>`` for every
profile of the config against each tree, alternating which goes first, in
deterministic mode.  It measures adaptively (``gate.sequential``): the
minimum of boots for every profile, then more boots (``--first-boot``, new
layouts, joined to the side's result file) only for the profiles whose rows
are still undecided, up to ``[gate] max_boots``.  The measuring harness is
always the running ci_tools (the head's), so only the kernel differs
between the two sides.  Everything lands in one folder (``gate.manifest``),
the artifact the comment workflow downloads; ``gate.evaluate`` reads it
back as untrusted input and replays the looks from the result files.
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
from ci_tools.compare import decide
from ci_tools.errors import BadInputError, CiToolsError, ExitCode
from ci_tools.gate import sequential
from ci_tools.gate.evaluate import evaluate, first_boots, gate_config_from
from ci_tools.gate.manifest import MANIFEST, SIDES, check_profile_name, result_path, write_manifest
from ci_tools.github.event import read_event
from ci_tools.history import store as history
from ci_tools.history.record import Record
from ci_tools.results import merge, store
from ci_tools.results.model import Result
from ci_tools.util import files, proc
from ci_tools.util import markdown as md
from ci_tools.util.git import git
from ci_tools.util.text import shorten

# --------------------------------------------------------------------------
# Running both sides


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    base: str  # the PR's base commit (any commit on the base branch)
    head: str  # the PR's head commit, checked out in ``repo``
    pr: int
    repository: str | None = None
    profiles: tuple[str, ...] = ()  # empty: every profile of the repository's config
    boots: int | None = None  # first look; None: [gate] min_boots, else what the matrix needs
    max_boots: int | None = None  # the budget per side; None: [gate] max_boots
    output_dir: Path = Path("bench-pr")
    work_dir: Path | None = None
    repo: Path = Path()
    jobs: int | None = None  # boots at once over both sides; None: one per CPU
    shard: Shard | None = None  # measure this shard of each side's boots (``ci_tools merge``)
    history: str | None = None  # a remote with main's history: the merge base's runs reused


def config_profiles(repo: Path) -> list[str]:
    """The profiles of ``repo``'s config (the one its nox sessions are generated from)."""
    return list(config.load(repo / config.default_path(), check_paths=False).profile_names)


def gate_plan(profiles: int, gate: config.GateConfig, options: RunOptions) -> sequential.Plan:
    """The looks of this run: the command line's boots, else the config's, else the defaults.

    The first look has at least the boots with which every row of the matrix
    (one family) can reach a verdict at that look's alpha.  A shard measures
    the whole budget in one look: its share of the boots alone decides
    nothing, so it cannot choose what to measure next.
    """
    budget = options.max_boots or gate.max_boots
    if options.shard is not None:
        budget = budget or sequential.DEFAULT_MAX_BOOTS
    asked = budget if options.shard is not None else options.boots or gate.min_boots
    the_plan = sequential.plan(
        alpha=decide.DEFAULT_ALPHA,
        rows=profiles * len(CORE_BENCHMARKS),
        min_boots=asked,
        max_boots=budget,
    )
    if asked is not None and asked < the_plan.min_boots:
        output.warn(
            f"{asked} boots per side cannot decide {profiles} profile(s) x "
            f"{len(CORE_BENCHMARKS)} benchmarks at the first look: measuring "
            f"{the_plan.min_boots}"
        )
    return the_plan


def bench_command(
    profile: str,
    out: Path,
    boots: int,
    *,
    first_boot: int = 0,
    jobs: int = 1,
    shard: Shard | None = None,
) -> list[str]:
    """The harness call for one side: the running ci_tools, whatever the tree holds."""
    more = ["--first-boot", str(first_boot)] if first_boot else []
    return [
        sys.executable, "-m", "ci_tools", "bench", "profile", profile,
        "--mode", "deterministic", "--boots", str(boots), *more, "--output", str(out.resolve()),
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
    gate = gate_config_from(repo / config.default_path() if _has_config(repo) else None)
    the_plan = gate_plan(len(profiles), gate, options)
    manifest: dict[str, Any] = {
        "format": "ci_tools-bench-pr",
        "version": 1,
        "pr": options.pr,
        "repository": options.repository,
        "base_sha": git(repo, "rev-parse", options.base),
        "merge_base": merge_base,
        "head_sha": head_now,
        "boots": the_plan.min_boots,
        "looks": [],
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
    sides = _Sides(
        out=out, manifest=manifest, trees=trees, run_sides=run_sides, jobs=side_jobs,
        shard=options.shard, merge_base=merge_base,
        stored=stored_runs(repo, options.history, merge_base, options.shard),
    )  # fmt: skip
    min_effects = decide.min_effects_from_config(None)
    try:
        sequential.run_looks(
            the_plan,
            profiles,
            measure=sides.measure,
            # The noise floor made for the budget: a threshold that stays put across looks.
            compare=lambda pairs, alpha: decide.compare_pairs(
                pairs, min_effects=min_effects, alpha=alpha, noise_boots=the_plan.max_boots
            ),
            profile_of=lambda row: row.base_label.rsplit(".", 2)[0],
        )
    finally:
        git(repo, "worktree", "remove", "--force", str(base_tree))
        if options.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    if options.shard is not None:
        return _shard_done(out, manifest, options.shard)
    report = evaluate(out, inconclusive=gate.inconclusive, history=sides.stored.every)
    markdown = report.markdown()
    files.write_atomic(out / "summary.md", markdown)
    output.append_summary(markdown)
    print(markdown)
    report.annotate()
    return report.exit_code


def _shard_done(out: Path, manifest: dict[str, Any], shard: Shard) -> int:
    """A shard gives no verdict (its share of the boots would gate at the whole alpha):
    it says what it measured; exit 0, or the first side's failure."""
    failed = [(e["name"], s, e[s]) for e in manifest["profiles"] for s in SIDES
              if e[s]["state"] != "measured"]  # fmt: skip
    lines = [f"- {name}, {side}: {md.code(state['reason'], table=False)}"
             for name, side, state in failed]  # fmt: skip
    text = (
        f"## Benchmarks: shard {shard} measured, no verdict\n\n"
        "A shard holds a share of the boots; the verdict comes from the joined folder "
        "(`ci_tools merge` each side's shard files, then `comment --bench-dir`).\n"
        + ("\n" + "\n".join(lines) + "\n" if lines else "")
    )
    files.write_atomic(out / "summary.md", text)
    output.append_summary(text)
    print(text)
    codes = [int(state.get("exit_code", ExitCode.HARNESS)) for _, _, state in failed]
    return next((c for c in codes if c), int(ExitCode.HARNESS)) if failed else int(ExitCode.OK)


MANIFEST_TEXT = 500  # characters of a run's reason or baseline (schemas/bench-pr-v1)


def _has_config(repo: Path) -> bool:
    return (repo / config.default_path()).is_file()


@dataclass(frozen=True)
class Stored:
    """main's stored runs of the merge base, or why there are none to reuse."""

    runs: Sequence[Record]
    why_none: str | None
    every: Sequence[Record] = ()  # every stored run of main (the summary's charts)


def stored_runs(repo: Path, remote: str | None, merge_base: str, shard: Shard | None) -> Stored:
    """The merge base's complete runs on the history branch of ``remote``.

    Reading the history never fails the gate: when it cannot be read, both sides
    are measured and the comment says why."""
    if remote is None:
        return Stored((), None)
    if shard is not None:
        return Stored((), "a shard measures both sides (its share of the boots)")
    with output.group("history: the merge base's stored runs"):
        try:
            runs = history.HistoryBranch(repo=repo, remote=remote).read()
        except CiToolsError as exc:
            output.warn(f"history on {remote} not read, measuring both sides: {exc.message}")
            return Stored(
                (),
                f"the history on {remote} could not be read (a private repository read "
                "without credentials, no network, or no such remote; the job log says which)",
            )
        mine = [r for r in runs if r.commit == merge_base and r.result.status.complete]
        output.info(f"{len(mine)} complete stored run(s) of {merge_base[:12]} on {remote}")
        return Stored(mine, None if mine else f"no run of {merge_base[:12]} is stored", runs)


@dataclass(kw_only=True)
class _Sides:
    """Runs the harness for the sides of a look and keeps the manifest up to date."""

    out: Path
    manifest: dict[str, Any]
    trees: dict[str, Path]
    run_sides: Callable[[list[tuple[Path, list[str]]]], list[int]]  # both sides, their codes
    jobs: int  # boots at once for each side
    shard: Shard | None
    merge_base: str
    stored: Stored

    def _reusable(self, name: str, boots: int) -> Record | None:
        """The newest stored run of profile ``name`` with ``boots`` boots or more: the one
        a checking boot is measured for."""
        runs = [r for r in self.stored.runs if r.profile == name and len(r.result.boots) >= boots]
        return max(runs, key=lambda r: r.recorded_at, default=None)

    def _why_not_stored(self, name: str, boots: int) -> str | None:
        """Why no stored run of ``name`` can serve (None: there is one, or no history)."""
        if self.stored.why_none is not None:
            return self.stored.why_none
        if not self.stored.runs:
            return None  # no history asked for
        mine = [len(r.result.boots) for r in self.stored.runs if r.profile == name]
        if not mine:
            return f"no run of {name} at {self.merge_base[:12]} is stored"
        return (
            f"the stored runs of {name} have {max(mine)} boots at most; the first look "
            f"needs {boots}"
        )

    def _check_or_measure(
        self, name: str, entry: dict[str, Any], check: Path, code: int, look: int
    ) -> None:
        """After the base's checking boot (``check``: a boot the stored run has, measured
        again), reuse the stored run it agrees with; else measure the base here."""
        result = result_path(self.out, name, "base")
        state = _side_state(code, check)
        if state["state"] == "measured":
            baseline = history.find_baseline(
                self.stored.runs, store.load(check), self.merge_base, profile=name,
                min_boots=look,
            )  # fmt: skip
            if baseline.result is not None:
                store.save(baseline.result.data, result)
                entry["base"] = {"state": "measured", "baseline": baseline.reason}
                output.info(f"{name}: base: {baseline.reason}")
                return
            why = baseline.reason
        else:
            why = f"the checking boot: {state['reason']}"
        output.info(f"{name}: base: measured here ({why})")
        argv = bench_command(name, result, look, jobs=self.jobs * 2)
        [code] = self.run_sides([(self.trees["base"], argv)])
        entry["base"] = {
            **_side_state(code, result),
            "baseline": shorten(f"measured here: {why}", MANIFEST_TEXT),
        }

    def measure(
        self, look: sequential.Look, names: Sequence[str]
    ) -> dict[str, tuple[Result, Result]]:
        """Measure ``names`` to ``look.boots`` boots per side; the pairs that could be."""
        number = len(self.manifest["looks"])
        entries = [e for e in self.manifest["profiles"] if e["name"] in names]
        got: dict[str, tuple[Result, Result]] = {}
        for index, entry in enumerate(entries):
            name = entry["name"]
            order = SIDES if index % 2 == 0 else SIDES[::-1]
            stored = None if number else self._reusable(name, look.boots)
            # (side, result file to write, boots, first boot index)
            plans: list[tuple[str, Path, int, int]] = []
            for side in order:
                result = result_path(self.out, name, side)
                if side == "base" and stored is not None:
                    # A boot the stored run has, measured again: the same boot, if
                    # nothing changed.
                    check = result.with_name(f"{name}.base.check.json")
                    plans.append((side, check, 1, min(b.index for b in stored.result.boots)))
                    continue
                if not number:
                    plans.append((side, result, look.boots, 0))
                    continue
                boots = store.load(result).data["boots"]
                if len(boots) < look.boots:  # a reused base may have the boots already
                    more = result.with_name(f"{name}.{side}.look{number + 1}.json")
                    # New layouts: after the highest index it holds (a stored run may
                    # have been a shard's).
                    after = max(b["index"] for b in boots) + 1
                    plans.append((side, more, look.boots - len(boots), after))
            # A side measured alone, or beside one checking boot, takes every job.
            alone = len(plans) == 1 or stored is not None
            commands = []
            for side, target, boots_now, first in plans:
                target.unlink(missing_ok=True)
                argv = bench_command(
                    name, target, boots_now, first_boot=first,
                    jobs=self.jobs * 2 if alone else self.jobs, shard=self.shard,
                )  # fmt: skip
                # No ::group:: here: the harness prints its own, and GitHub
                # does not nest them.
                output.phase(
                    f"{name}: {side} ({self.trees[side]}), look {number + 1}: "
                    f"{look.boots} boots per side"
                )
                commands.append((self.trees[side], argv))
            codes = self.run_sides(commands) if commands else []
            extra: dict[str, Path] = {}
            for (side, target, _, _), code in zip(plans, codes, strict=True):
                state = _side_state(code, target)
                if not number and side == "base" and stored is not None:
                    self._check_or_measure(name, entry, target, code, look.boots)
                elif not number:
                    entry[side] = state
                    why = self._why_not_stored(name, look.boots) if side == "base" else None
                    if why is not None:
                        entry["base"]["baseline"] = shorten(f"measured here: {why}", MANIFEST_TEXT)
                elif state["state"] == "measured":
                    extra[side] = target
                else:
                    output.warn(
                        f"{name}, {side}: the extra boots of look {number + 1} failed "
                        f"({state['reason']}); its verdicts stay those of the earlier look"
                    )
                write_manifest(self.out / MANIFEST, self.manifest)
            # A look's boots join both sides or neither: a side never holds half a look.
            extra_ok = not number or (len(extra) == len(plans) and self._join(name, extra))
            if all(entry[s]["state"] == "measured" for s in SIDES) and extra_ok:
                # As evaluate replays the look: each side's first boots (a reused base
                # may hold more).
                got[name] = (
                    first_boots(store.load(result_path(self.out, name, "base")), look.boots),
                    first_boots(store.load(result_path(self.out, name, "head")), look.boots),
                )
        self.manifest["looks"].append(
            {"boots": look.boots, "alpha": look.alpha, "profiles": list(got)}
        )
        write_manifest(self.out / MANIFEST, self.manifest)
        return got

    def _join(self, name: str, extra: dict[str, Path]) -> bool:
        """A look's extra boots joined to each side's result, all or none; False (and
        why) if one cannot be: then the sides stay as they were."""
        joined = {}
        for side, path in extra.items():
            result = result_path(self.out, name, side)
            try:
                joined[side] = merge.merge(
                    [store.load(result), store.load(path)], result.with_suffix(".joined")
                ).path
            except CiToolsError as exc:
                output.warn(
                    f"{name}, {side}: {path.name} not joined ({exc.message}); the verdicts "
                    "stay those of the earlier look"
                )
                for done in joined.values():
                    if done is not None:
                        done.unlink(missing_ok=True)
                return False
        for side, done in joined.items():
            assert done is not None
            done.replace(result_path(self.out, name, side))
        return True


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
    max_boots: int | None = None,
    work_dir: Path | None,
    jobs: int | None = None,
    shard: Shard | None = None,
    history: str | None = None,
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
        max_boots=max_boots,
        output_dir=output_dir,
        work_dir=work_dir,
        jobs=jobs,
        shard=shard,
        history=history,
    )
