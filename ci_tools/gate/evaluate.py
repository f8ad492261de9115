"""A bench-pr artifact folder read as untrusted input, compared, and rendered.

The manifest is checked against its schema, result paths are built from
validated profile names, every result is validated again by ``store.load``,
and the tables are rendered here, never taken from the folder.  A run that
could not measure is never reported as a regression, nor as a pass.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ci_tools import output
from ci_tools.compare import decide
from ci_tools.compare.model import VERDICT_CODES, Comparison, Row, verdict_exit_code
from ci_tools.errors import CiToolsError, ExitCode
from ci_tools.gate.manifest import SIDES, check_profile_name, load_manifest, result_path
from ci_tools.github.comment import Renderer, fit_comment, static_section
from ci_tools.report import tables
from ci_tools.results import store
from ci_tools.results.model import Result
from ci_tools.util import markdown as md

# compare_pairs([(base, head), ...]) -> Comparison (one table, one family sharing
# alpha for the whole matrix), and its markdown renderer (max_chars=).
ComparePairs = Callable[[Sequence[tuple[Result, Result]]], Comparison]
RenderMarkdown = Callable[..., str]


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
    sections: tuple[Renderer, ...]
    unreadable: tuple[str, ...] = ()  # why result files of the artifact were refused

    @property
    def exit_code(self) -> int:
        """Regression wins; then a run that could not measure; then could not compare;
        then inconclusive."""
        codes = [o.code for o in self.outcomes]
        if ExitCode.REGRESSION in codes:
            return int(ExitCode.REGRESSION)
        failures = [c for c in codes if c not in VERDICT_CODES]
        if failures:
            return failures[0]
        for code in (ExitCode.BAD_INPUT, ExitCode.INCONCLUSIVE):
            if code in codes:
                return int(code)
        return int(ExitCode.OK)

    def header(self) -> str:
        code = self.exit_code
        if code in (ExitCode.OK, ExitCode.REGRESSION, ExitCode.INCONCLUSIVE):
            verdict = VERDICT_CODES[ExitCode(code)]
            verdict = f"**{verdict}**" if code == ExitCode.REGRESSION else verdict
        else:
            verdict = "could not measure or compare everything"
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
        return fit_comment(self.header(), self.sections, details_url=details_url)

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


def _problems_section(lines: list[str]) -> Renderer:
    text = "### Not compared\n\n" + "\n".join(lines) + "\n\n"
    text += "These are infrastructure, build or input problems, not performance verdicts.\n"
    return static_section(text)


def _untrusted(text: str) -> str:
    """Text from the artifact in a list item: inline code, so nothing in it can act."""
    return md.code(text, limit=300, table=False)


def _profile_verdict(rows: Sequence[Row], incomplete: bool) -> tuple[int, str]:
    code = verdict_exit_code((r.verdict for r in rows), incomplete=incomplete)
    return int(code), VERDICT_CODES[code]


def evaluate(
    folder: Path,
    *,
    compare_pairs: ComparePairs | None = None,
    render_markdown: RenderMarkdown | None = None,
) -> Report:
    """Validate a bench-pr folder and compare the matrix; nothing in it is trusted."""
    if compare_pairs is None:
        # The per-benchmark minimum effects of the trusted checkout's ci_tools.toml.
        min_effects = decide.min_effects_from_config(None)
        compare_pairs = functools.partial(decide.compare_pairs, min_effects=min_effects)
    render_markdown = render_markdown or tables.comparison_markdown
    manifest = load_manifest(folder)
    failed: dict[str, Outcome] = {}
    problems: list[str] = []
    unreadable: list[str] = []
    pairs: dict[str, tuple[Result, Result]] = {}
    for entry in manifest["profiles"]:
        name = entry["name"]
        check_profile_name(name)  # the schema says so too; paths are built from it
        sides = [s for s in SIDES if entry[s]["state"] != "measured"]
        if sides:
            code = next((entry[s]["exit_code"] for s in sides if "exit_code" in entry[s]), None)
            if code is None or code in VERDICT_CODES:  # a run must not borrow a verdict's code
                code = int(ExitCode.HARNESS)
            failed[name] = Outcome(
                profile=name, code=code, verdict=f"could not measure {' and '.join(sides)}"
            )
            for s in sides:
                reason = entry[s].get("reason", entry[s]["state"])
                problems.append(f"- {name}, {s}: {_untrusted(reason)}")
            continue
        try:
            pairs[name] = (
                store.load(result_path(folder, name, "base"), within=folder),
                store.load(result_path(folder, name, "head"), within=folder),
            )
        except CiToolsError as exc:
            failed[name] = Outcome(
                profile=name, code=int(ExitCode.BAD_INPUT), verdict="could not compare"
            )
            problems.append(f"- {name}: {_untrusted(exc.message)}")
            unreadable.append(exc.message)

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
                    problems.append(f"- {name}: {_untrusted(exc.message)}")
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

    sections: list[Renderer] = []
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
        unreadable=tuple(unreadable),
    )
