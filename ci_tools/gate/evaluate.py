"""A bench-pr artifact folder read as untrusted input, compared, and rendered.

The manifest is checked against its schema, result paths are built from
validated profile names, every result is validated again by ``store.load``,
and the tables are rendered here, never taken from the folder.  A run that
could not measure is never reported as a regression, nor as a pass.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_tools import config, output
from ci_tools.compare import decide
from ci_tools.compare.model import VERDICT_CODES, Comparison, Row, Verdict, verdict_exit_code
from ci_tools.errors import BadInputError, CiToolsError, ExitCode
from ci_tools.gate import sequential
from ci_tools.gate.manifest import SIDES, check_profile_name, load_manifest, result_path
from ci_tools.github.comment import Renderer, fit_comment, static_section
from ci_tools.history import series
from ci_tools.history.record import Record, SeriesKey
from ci_tools.report import tables
from ci_tools.report.history import mermaid_chart
from ci_tools.results import combine, store
from ci_tools.results.model import Result
from ci_tools.util import markdown as md

# compare_pairs([(base, head), ...], alpha=...) -> Comparison (one table, one family
# sharing alpha for the whole matrix), and its markdown renderer (max_chars=).
ComparePairs = Callable[..., Comparison]
RenderMarkdown = Callable[..., str]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    profile: str
    code: int  # 0 no regression, 1 regression, 2 inconclusive, 3 could not compare, else the run's
    verdict: str


def inconclusive_message(boots: int | None, policy: config.InconclusivePolicy) -> str:
    """What an undecided table tells the reader: not a regression, and what to do."""
    spent = f" after {boots} boots per side" if boots else ""
    action = "the check fails" if policy == "fail" else "the check passes with this warning"
    return (
        f"inconclusive{spent}: this is not a proven regression, but neither could "
        f"'no change' be shown, so {action} ([gate] inconclusive = \"{policy}\"). "
        "Rerun the job (new boots), or raise [gate] max_boots in ci_tools.toml"
        + (
            ', or set [gate] inconclusive = "warn" to let such a table pass'
            if policy == "fail"
            else ""
        )
        + "."
    )


@dataclass(frozen=True, kw_only=True)
class Report:
    pr: int
    head_sha: str
    merge_base: str
    outcomes: tuple[Outcome, ...]
    sections: tuple[Renderer, ...]
    unreadable: tuple[str, ...] = ()  # why result files of the artifact were refused
    inconclusive: config.InconclusivePolicy = "fail"
    boots: int | None = None  # per side at the last look
    # (profile, how its merge base was had) when bench-pr was given a history
    baselines: tuple[tuple[str, str], ...] = ()

    @property
    def exit_code(self) -> int:
        """``verdict_code``, with an inconclusive table passing when the config says warn."""
        code = self.verdict_code
        if code == ExitCode.INCONCLUSIVE and self.inconclusive == "warn":
            return int(ExitCode.OK)
        return code

    @property
    def verdict_code(self) -> int:
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
        code = self.verdict_code
        if code in (ExitCode.OK, ExitCode.REGRESSION, ExitCode.INCONCLUSIVE):
            verdict = VERDICT_CODES[ExitCode(code)]
            verdict = f"**{verdict}**" if code == ExitCode.REGRESSION else verdict
        else:
            verdict = "could not measure or compare everything"
        rows = "\n".join(f"| {o.profile} | {o.verdict} |" for o in self.outcomes)
        if code == ExitCode.INCONCLUSIVE:
            rows += f"\n\n{inconclusive_message(self.boots, self.inconclusive)}"
        where = "both measured on one runner"
        reused = [p for p, how in self.baselines if how.startswith("reused")]
        if reused:
            where = (
                f"the head measured on this runner, the merge base of {', '.join(reused)} "
                "taken from main's stored runs (the same setup, and one of their boots "
                "measured again here gave the same figures)"
            )
        items = [f"- {p}, merge base: {_untrusted(h)}" for p, h in self.baselines]
        how = "\n\n" + "\n".join(items) if items else ""
        return (
            f"## Benchmarks: {verdict}\n\n"
            f"Head `{self.head_sha[:12]}` against merge base `{self.merge_base[:12]}`, "
            f"deterministic mode (QEMU TCG with -icount), {where}.{how}\n\n"
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
                message = f"{o.profile}: {inconclusive_message(self.boots, self.inconclusive)}"
                (output.error if self.inconclusive == "fail" else output.warn)(message)
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


def plan_of(
    manifest: Mapping[str, Any], pairs: Mapping[str, tuple[Result, Result]]
) -> sequential.Plan:
    """The looks bench-pr took, from the manifest; one look at every boot if it names none.

    The manifest is untrusted: its looks may spend no more than the gate's alpha,
    in boots that only grow.
    """
    looks = manifest.get("looks")
    if not isinstance(looks, list) or not looks:
        boots = max((len(r.data["boots"]) for pair in pairs.values() for r in pair), default=1)
        only = sequential.Look(boots=boots, alpha=decide.DEFAULT_ALPHA)
        return sequential.Plan(alpha=decide.DEFAULT_ALPHA, looks=(only,), needed=boots)
    planned = tuple(sequential.Look(boots=int(k["boots"]), alpha=float(k["alpha"])) for k in looks)
    total = sum(k.alpha for k in planned)
    sizes = [k.boots for k in planned]
    if total > decide.DEFAULT_ALPHA * (1 + 1e-9) or sizes != sorted(set(sizes)):
        raise BadInputError(
            f"the manifest's looks ({sizes} boots, alpha {total:.3g} in all) spend more than "
            f"the gate's alpha {decide.DEFAULT_ALPHA:g} or do not grow",
            hint="the artifact was not written by this ci_tools' bench-pr",
        )
    return sequential.Plan(alpha=total, looks=planned, needed=planned[0].boots)


def evaluate(
    folder: Path,
    *,
    compare_pairs: ComparePairs | None = None,
    render_markdown: RenderMarkdown | None = None,
    inconclusive: config.InconclusivePolicy | None = None,
    history: Sequence[Record] = (),
    report_url: str | None = None,
) -> Report:
    """Validate a bench-pr folder and decide the matrix again, look by look, as bench-pr did.

    Nothing in the folder is trusted: the verdicts are replayed from the result
    files (a side's first N boots are what it held at a look of N boots).
    ``inconclusive`` defaults to the trusted checkout's ``[gate] inconclusive``.
    ``history``, main's stored runs: a regression's benchmark is drawn over
    main's recent commits with the head's median last; ``report_url`` links
    main's history report.
    """
    if compare_pairs is None:
        # The per-benchmark minimum effects of the trusted checkout's ci_tools.toml.
        min_effects = decide.min_effects_from_config(None)
        compare_pairs = functools.partial(decide.compare_pairs, min_effects=min_effects)
    if inconclusive is None:
        inconclusive = gate_config_from(None).inconclusive
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

    try:
        if pairs:
            compare_pairs(list(pairs.values()))
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

    comparison = None
    boots = None
    short: set[str] = set()
    if pairs:
        the_plan = plan_of(manifest, pairs)
        profile_by_label = {
            (b.path.name if b.path else "", h.path.name if h.path else ""): name
            for name, (b, h) in pairs.items()
        }

        # The profiles each look measured: one whose extra boots failed was not.
        measured_at = {int(k["boots"]): set(k["profiles"]) for k in manifest.get("looks") or []}
        # A side with fewer boots than the last look that measured it (a shard's share,
        # a lost file): its verdicts would rest on less than the look says.
        for name, pair in pairs.items():
            wanted = max((n for n, names in measured_at.items() if name in names),
                         default=the_plan.looks[0].boots)  # fmt: skip
            have = min(len(r.boots) for r in pair)
            if have < wanted:
                short.add(name)
                problems.append(
                    f"- {name}: a side holds {have} boots, its last look {wanted}: inconclusive "
                    "(join every shard's files with `ci_tools merge` before comparing)"
                )

        def replay(look: sequential.Look, names: Sequence[str]) -> dict[str, tuple[Result, Result]]:
            n = look.boots
            names = [p for p in names if p in measured_at.get(n, pairs)]
            return {p: (first_boots(pairs[p][0], n), first_boots(pairs[p][1], n)) for p in names}

        decided = sequential.run_looks(
            the_plan,
            list(pairs),
            measure=replay,
            compare=lambda chosen, alpha: compare_pairs(
                chosen, alpha=alpha, noise_boots=the_plan.max_boots
            ),
            profile_of=lambda row: profile_by_label[(row.base_label, row.head_label)],
        )
        if decided is not None:
            comparison = decided.comparison
            boots = decided.looks[-1].boots

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
        incomplete = not (base.status.complete and head.status.complete) or name in short
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
    charts = ""
    if comparison is not None and history:
        try:
            charts = history_section(comparison, pairs, history)
        except (CiToolsError, ValueError) as exc:
            # main's history is decoration here: the verdicts stand without it.
            output.warn(f"main's history not drawn: {exc}")
    link = f"[The history of main]({report_url})\n" if report_url else ""
    if charts or link:
        sections.append(static_section("\n".join(filter(None, (charts, link)))))
    return Report(
        pr=manifest["pr"],
        head_sha=manifest["head_sha"],
        merge_base=manifest["merge_base"],
        outcomes=tuple(outcomes),
        sections=tuple(sections),
        unreadable=tuple(unreadable),
        inconclusive=inconclusive,
        boots=boots,
        baselines=tuple(
            (e["name"], e["base"]["baseline"])
            for e in manifest["profiles"]
            if isinstance(e["base"].get("baseline"), str)
        ),
    )


MAX_CHARTS = 4  # in one comment: the first regressions' benchmarks


def history_section(
    comparison: Comparison,
    pairs: Mapping[str, tuple[Result, Result]],
    history: Sequence[Record],
) -> str:
    """Main's recent medians of each regressed benchmark, with the head's last (Mermaid
    charts, which GitHub draws), from the series the merge base was measured in."""
    by_label = {(b.path.name if b.path else "", h.path.name if h.path else ""): (p, b)
                for p, (b, h) in pairs.items()}  # fmt: skip
    laid_out = series.build([series.Run.of(r) for r in history])
    charts = []
    for row in comparison.rows:
        if row.verdict != Verdict.REGRESSION or row.head is None or not row.head.values:
            continue
        found = by_label.get((row.base_label, row.head_label))
        if found is None:
            continue
        profile, base = found
        key = SeriesKey.of(base)
        match = [s for s in laid_out if s.profile == profile and s.key == key]
        median = float(statistics.median(row.head.values))
        chart = (
            mermaid_chart(match[-1], row.benchmark, last=20, then=("head", median)) if match else ""
        )
        if chart:
            charts.append(f"{profile}, {md.code(row.benchmark, table=False)}:\n\n{chart}")
    if not charts:
        return ""
    shown = charts[:MAX_CHARTS]
    more = (
        f"\n({len(charts) - len(shown)} more regressed rows not drawn.)\n"
        if len(charts) > len(shown)
        else ""
    )
    return (
        "### Main's recent commits and this head\n\n"
        "The median ns per iteration of each regressed benchmark over main's last stored "
        "runs measured as the merge base was, then the head's.\n\n" + "\n".join(shown) + more
    )


def first_boots(result: Result, n: int) -> Result:
    """``result`` as it was with ``n`` boots a side (same file name: the same label)."""
    if len(result.data["boots"]) <= n:
        return result
    return Result(combine.first_boots(result, n), result.path)


def gate_config_from(path: Path | None) -> config.GateConfig:
    """``[gate]`` of the config file; with no path, of ./ci_tools.toml if there is one."""
    if path is None:
        path = config.default_path()
        if not path.is_file():
            return config.GateConfig()
    return config.load(path, check_paths=False).gate
