"""A pull request's benchmarks: its merge base and its head, on one runner.

``run`` (``python -m ci_tools bench-pr``) checks the merge base out in a git
worktree next to the head checkout and runs ``bench profile <p>`` for every
profile against each tree, alternating which goes first, in deterministic
mode.  The measuring harness is always the running ci_tools (the head's), so
only the kernel differs between the two sides.  Everything lands in one
folder, the artifact the comment workflow downloads:

    manifest.json                  PR number, commits, how each run ended
    results/<profile>.base.json    result files (schemas/results-v1)
    results/<profile>.head.json
    summary.md                     the tables of the job summary

``evaluate`` reads such a folder as untrusted input: the manifest is checked
against ``schemas/bench-pr-v1.schema.json``, result paths are built from
validated profile names, every result is validated again by
``store.load``, and the tables are rendered here, never taken from the
folder.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ci_tools
from ci_tools import output
from ci_tools.errors import BadInputError, CiToolsError, ExitCode
from ci_tools.github import comment, event
from ci_tools.results import store
from ci_tools.results.model import Result
from ci_tools.util import files, proc, schemas
from ci_tools.util import markdown as md
from ci_tools.util.git import git

MANIFEST = "manifest.json"
MANIFEST_SCHEMA = "bench-pr-v1.schema.json"
SIDES = ("base", "head")

# Verdict codes of ``compare`` (README, "Exit codes"), and what they mean here.
_VERDICTS: dict[int, str] = {
    ExitCode.OK: "no regression",
    ExitCode.REGRESSION: "regression",
    ExitCode.INCONCLUSIVE: "inconclusive",
    ExitCode.BAD_INPUT: "could not compare",
}


# --------------------------------------------------------------------------
# Running both sides


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    base: str  # the PR's base commit (any commit on the base branch)
    head: str  # the PR's head commit, checked out in ``repo``
    pr: int
    repository: str | None = None
    profiles: tuple[str, ...] = ()  # empty: every check-<profile> nox session
    boots: int | None = None  # None: enough for the whole matrix to reach a verdict
    output_dir: Path = Path("bench-pr")
    work_dir: Path | None = None
    repo: Path = Path()


def nox_sessions(tree: Path) -> list[dict[str, Any]]:
    """Every session of ``tree``'s noxfile, as ``nox -l --json`` describes it.

    ``-k ""`` selects all sessions: without a selection nox lists only the
    default ones.
    """
    listing = proc.run(
        [sys.executable, "-m", "nox", "-l", "--json", "-k", ""], cwd=tree, quiet=True
    ).stdout
    start = listing.find("[")
    try:
        sessions: list[dict[str, Any]] = json.loads(listing[start:])
    except ValueError as exc:
        raise BadInputError(f"`nox -l --json` in {tree} printed no session list") from exc
    return sessions


def profiles_from_nox(tree: Path) -> list[str]:
    """Profile names, from the ``check-<profile>`` sessions the config generates."""
    names = [str(s["session"]) for s in nox_sessions(tree)]
    return [n.removeprefix("check-") for n in names if n.startswith("check-")]


DETECTION_BOOTS = 16


def default_boots(profiles: int) -> int:
    """Boots per side with which every row of the matrix can reach a verdict.

    ``compare`` tests every benchmark of every profile as one Holm family;
    with fewer boots even an unmistakable change stays "inconclusive".
    """
    from ci_tools.bench.run import CORE_BENCHMARKS
    from ci_tools.compare import decide, stats

    # 16 boots a side: benchmarks/evaluate_gate.py measured 0/400 false-alarm
    # tables and 92% detection of a 5% slowdown (7 of 8 benchmarks >= 98%) at
    # about 6 minutes of runner time per profile; 8 detected only 84%.
    needed = stats.boots_needed(profiles * len(CORE_BENCHMARKS), decide.DEFAULT_ALPHA)
    return max(needed, DETECTION_BOOTS)


def bench_command(profile: str, out: Path, boots: int) -> list[str]:
    """The harness call for one side: the running ci_tools, whatever the tree holds."""
    return [
        sys.executable, "-m", "ci_tools", "bench", "profile", profile,
        "--mode", "deterministic", "--boots", str(boots), "--output", str(out.resolve()),
    ]  # fmt: skip


def _harness_env() -> dict[str, str]:
    # ``python -m`` puts the working directory first on sys.path, so in the
    # base tree of ci_tools' own repository the *base* ci_tools would run.
    # PYTHONSAFEPATH (3.11+) drops that entry; PYTHONPATH points at ours.
    ours = str(Path(ci_tools.__file__).resolve().parent.parent)
    paths = [ours, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {"PYTHONSAFEPATH": "1", "PYTHONPATH": os.pathsep.join(paths)}


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    errors = schemas.schema_errors(manifest, MANIFEST_SCHEMA)
    if errors:  # pragma: no cover - a bug here
        raise CiToolsError(f"refusing to write an invalid manifest: {errors}")
    files.write_atomic(path, json.dumps(manifest, indent=2) + "\n")


def run(
    options: RunOptions,
    *,
    run_side: Callable[[Path, list[str]], int] | None = None,
) -> int:
    """Measure base and head, write the artifact folder, report; returns the exit code."""
    run_side = run_side or _run_side
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
    profiles = list(options.profiles) or profiles_from_nox(repo)
    if not profiles:
        raise BadInputError(f"no profiles: {repo}'s noxfile has no check-<profile> sessions")
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
    _write_manifest(out / MANIFEST, manifest)
    work = options.work_dir or Path(tempfile.mkdtemp(prefix="ci_tools-bench-pr-"))
    base_tree = work / "base"
    if base_tree.exists():
        git(repo, "worktree", "remove", "--force", str(base_tree))
    git(repo, "worktree", "add", "--detach", str(base_tree), merge_base)
    trees = {"base": base_tree, "head": repo}
    try:
        for index, entry in enumerate(manifest["profiles"]):
            order = SIDES if index % 2 == 0 else SIDES[::-1]
            for side in order:
                result = result_path(out, entry["name"], side)
                result.unlink(missing_ok=True)
                argv = bench_command(entry["name"], result, boots)
                # No ::group:: here: the harness prints its own, and GitHub
                # does not nest them.
                output.phase(f"{entry['name']}: {side} ({trees[side]})")
                code = run_side(trees[side], argv)
                entry[side] = _side_state(code, result)
                _write_manifest(out / MANIFEST, manifest)
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
    return proc.run(argv, cwd=tree, env=_harness_env(), capture=False, check=False).returncode


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


# --------------------------------------------------------------------------
# Reading an artifact folder (untrusted) and rendering it


_PROFILE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# The comparison issue's API: compare_pairs([(base, head), ...]) -> Comparison
# (one table and one Holm family for the whole matrix), render_markdown(c, max_chars=).
ComparePairs = Callable[[Sequence[tuple[Result, Result]]], Any]
RenderMarkdown = Callable[..., str]


def result_path(folder: Path, profile: str, side: str) -> Path:
    """``results/<profile>.<side>.json``: the file name is the label compare shows."""
    return folder / "results" / f"{profile}.{side}.json"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    profile: str
    code: int  # 0 no regression, 1 regression, 2 inconclusive, 3 could not compare, else the run's
    verdict: str


@dataclass(frozen=True, kw_only=True)
class Report:
    pr: int
    head_sha: str
    merge_base: str
    outcomes: tuple[Outcome, ...]
    sections: tuple[comment.Renderer, ...]

    @property
    def exit_code(self) -> int:
        """Regression wins; then a run that could not measure; then could not compare;
        then inconclusive."""
        codes = [o.code for o in self.outcomes]
        if ExitCode.REGRESSION in codes:
            return int(ExitCode.REGRESSION)
        failures = [c for c in codes if c not in _VERDICTS]
        if failures:
            return failures[0]
        for code in (ExitCode.BAD_INPUT, ExitCode.INCONCLUSIVE):
            if code in codes:
                return int(code)
        return int(ExitCode.OK)

    def header(self) -> str:
        verdicts: dict[int, str] = {
            ExitCode.OK: "no regression",
            ExitCode.REGRESSION: "**regression**",
            ExitCode.INCONCLUSIVE: "inconclusive",
        }
        verdict = verdicts.get(self.exit_code, "could not measure or compare everything")
        rows = "\n".join(f"| {o.profile} | {o.verdict} |" for o in self.outcomes)
        return (
            f"## Benchmarks: {verdict}\n\n"
            f"Head `{self.head_sha[:12]}` against merge base `{self.merge_base[:12]}`, "
            f"deterministic mode (QEMU TCG with -icount), both measured on one runner.\n\n"
            f"| profile | verdict |\n|---|---|\n{rows}\n"
        )

    def markdown(self) -> str:
        """Everything, for the job summary (whose limit is 1 MiB, not 64 KiB)."""
        parts = [self.header(), *(render(None).rstrip() for render in self.sections)]
        return "\n\n".join(p.rstrip() for p in parts) + "\n"

    def comment(self, *, details_url: str | None) -> str:
        """The sticky comment: marker, header, sections trimmed to fit."""
        return comment.fit_comment(self.header(), self.sections, details_url=details_url)

    def annotate(self) -> None:
        for o in self.outcomes:
            if o.code == ExitCode.REGRESSION:
                output.error(f"{o.profile}: performance regression (tables in the job summary)")
            elif o.code == ExitCode.INCONCLUSIVE:
                output.warn(f"{o.profile}: inconclusive, no regression shown (see the job summary)")
            elif o.code != ExitCode.OK:
                output.error(
                    f"{o.profile}: {o.verdict} -- an infrastructure or input problem, "
                    "not a performance regression"
                )


def load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: not a readable bench-pr manifest ({exc})") from exc
    errors = schemas.schema_errors(document, MANIFEST_SCHEMA)
    if errors:
        listing = "\n".join(f"  - {e}" for e in errors[:20])
        raise BadInputError(f"{path}: {len(errors)} error(s) against {MANIFEST_SCHEMA}:\n{listing}")
    names = [p["name"] for p in document["profiles"]]
    if len(set(names)) != len(names):
        raise BadInputError(f"{path}: a profile is listed twice")
    return document  # type: ignore[no-any-return]


def _problems_section(lines: list[str]) -> comment.Renderer:
    text = "### Not compared\n\n" + "\n".join(lines) + "\n\n"
    text += "These are infrastructure, build or input problems, not performance verdicts.\n"
    return comment.static_section(text)


def _profile_verdict(rows: Sequence[Any], incomplete: bool) -> tuple[int, str]:
    verdicts = {getattr(r.verdict, "value", str(r.verdict)) for r in rows}
    if "regression" in verdicts:
        return int(ExitCode.REGRESSION), "regression"
    if "inconclusive" in verdicts or incomplete:
        return int(ExitCode.INCONCLUSIVE), "inconclusive"
    return int(ExitCode.OK), "no regression"


def evaluate(
    folder: Path,
    *,
    compare_pairs: ComparePairs | None = None,
    render_markdown: RenderMarkdown | None = None,
) -> Report:
    """Validate a bench-pr folder and compare the matrix; nothing in it is trusted."""
    if compare_pairs is None or render_markdown is None:
        from ci_tools.compare import decide
        from ci_tools.report import tables

        # The per-benchmark minimum effects of the trusted checkout's ci_tools.toml.
        min_effects = decide.min_effects_from_config(None)
        compare_pairs = compare_pairs or functools.partial(
            decide.compare_pairs, min_effects=min_effects
        )
        render_markdown = render_markdown or tables.comparison_markdown
    manifest = load_manifest(folder)
    failed: dict[str, Outcome] = {}
    problems: list[str] = []
    pairs: dict[str, tuple[Result, Result]] = {}
    for entry in manifest["profiles"]:
        name = entry["name"]
        if not _PROFILE.match(name):  # the schema says so too; paths are built from it
            raise BadInputError(f"invalid profile name {name!r}")
        sides = [s for s in SIDES if entry[s]["state"] != "measured"]
        if sides:
            code = next((entry[s]["exit_code"] for s in sides if "exit_code" in entry[s]), None)
            if code is None or code in _VERDICTS:  # a run must not borrow a verdict's code
                code = int(ExitCode.HARNESS)
            failed[name] = Outcome(
                profile=name, code=code, verdict=f"could not measure {' and '.join(sides)}"
            )
            for s in sides:
                reason = entry[s].get("reason", entry[s]["state"])
                problems.append(f"- {name}, {s}: {md.code(reason, limit=300, table=False)}")
            continue
        try:
            pairs[name] = (
                store.load(result_path(folder, name, "base")),
                store.load(result_path(folder, name, "head")),
            )
        except CiToolsError as exc:
            failed[name] = Outcome(
                profile=name, code=int(ExitCode.BAD_INPUT), verdict="could not compare"
            )
            problems.append(f"- {name}: {md.code(exc.message, limit=300, table=False)}")

    comparison = None
    if pairs:
        try:
            comparison = compare_pairs(list(pairs.values()))
        except CiToolsError:
            # Find the pairs compare refuses (different setups, ...) and compare the rest.
            for name, pair in list(pairs.items()):
                try:
                    compare_pairs([pair])
                except CiToolsError as exc:
                    del pairs[name]
                    failed[name] = Outcome(
                        profile=name, code=int(ExitCode.BAD_INPUT), verdict="could not compare"
                    )
                    problems.append(f"- {name}: {md.code(exc.message, limit=300, table=False)}")
            comparison = compare_pairs(list(pairs.values())) if pairs else None

    outcomes = []
    for entry in manifest["profiles"]:
        name = entry["name"]
        if name in failed:
            outcomes.append(failed[name])
            continue
        base, head = pairs[name]
        assert comparison is not None  # there was at least this pair to compare
        labels = (base.path.name if base.path else "", head.path.name if head.path else "")
        rows = [r for r in comparison.rows if (r.base_label, r.head_label) == labels]
        incomplete = not (base.status.complete and head.status.complete)
        code, verdict = _profile_verdict(rows, incomplete)
        outcomes.append(Outcome(profile=name, code=code, verdict=verdict))

    sections: list[comment.Renderer] = []
    if problems:
        sections.append(_problems_section(problems))
    if comparison is not None:
        table = comparison
        render = render_markdown

        def render_table(max_chars: int | None) -> str:
            return render(table, max_chars=max_chars)

        sections.append(render_table)
    return Report(
        pr=manifest["pr"],
        head_sha=manifest["head_sha"],
        merge_base=manifest["merge_base"],
        outcomes=tuple(outcomes),
        sections=tuple(sections),
    )


def main_options(
    *,
    base: str | None,
    head: str | None,
    pr: int | None,
    profiles: Sequence[str],
    boots: int | None,
    output_dir: Path,
    work_dir: Path | None,
) -> RunOptions:
    """Fill what the command line left out from the pull_request event."""
    repository = os.environ.get("GITHUB_REPOSITORY")
    if base is None or head is None or pr is None:
        found = event.read_event()
        base = base or found.base_sha
        head = head or found.head_sha
        pr = pr or found.number
        repository = found.repository
    if not base or not head or not pr:
        raise BadInputError("need --base, --head and --pr (or a pull_request event)")
    for name in profiles:
        if not _PROFILE.match(name):
            raise BadInputError(f"invalid profile name {name!r}")
    return RunOptions(
        base=base,
        head=head,
        pr=pr,
        repository=repository,
        profiles=tuple(profiles),
        boots=boots,
        output_dir=output_dir,
        work_dir=work_dir,
    )
