"""``bench-all``'s cost table: each profile's medians against the fastest profile
and against the Linux guest under the same QEMU."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ci_tools.compare.inputs import check_compatible, label, per_boot
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result


@dataclass(frozen=True, kw_only=True)
class CostRow:
    benchmark: str
    reference: float | None  # median ns of the Linux guest
    medians: tuple[float | None, ...]  # one per profile, in input order

    @property
    def fastest(self) -> float | None:
        present = [m for m in self.medians if m is not None]
        return min(present) if present else None


@dataclass(frozen=True, kw_only=True)
class Cost:
    reference: str | None  # None: no reference guest to set the profiles against
    profiles: tuple[str, ...]
    rows: tuple[CostRow, ...]
    mode: str
    forced: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def _profile_label(result: Result) -> str:
    profile = result.target.profile
    return profile if profile else label(result)


def cost_table(
    reference: Result | None, profiles: Sequence[Result], *, force: bool = False
) -> Cost:
    """Each profile's median per benchmark, to set against the fastest profile and (with a
    reference) Linux."""
    if not profiles:
        raise BadInputError("cost needs at least one profile result besides the reference")
    notes = []
    measured = {n for p in profiles for n in p.benchmark_names()}
    if reference is None:
        everyone = list(profiles)
        pairs = [(profiles[0], p) for p in profiles[1:]]
    elif measured.isdisjoint(reference.benchmark_names()):
        # E.g. a kernel whose bench is built in, against Linux running bench.c:
        # nothing to set side by side, so the reference is left out, and said so.
        notes.append(
            f"{label(reference)} measured none of the profiles' benchmarks (another bench "
            "ran there): no comparison with it; the profiles are compared with each other"
        )
        everyone = list(profiles)
        pairs = [(profiles[0], p) for p in profiles[1:]]
        reference = None
    else:
        everyone = [reference, *profiles]
        pairs = [(reference, p) for p in profiles]
    forced = check_compatible(pairs, force=force, action="set these results side by side")
    names = list(dict.fromkeys(n for r in everyone for n in r.benchmark_names()))
    rows = []
    for name in names:
        ref = per_boot(reference, name) if reference is not None else None
        medians = tuple(s.median if (s := per_boot(p, name)) else None for p in profiles)
        rows.append(CostRow(benchmark=name, reference=ref.median if ref else None, medians=medians))
        missing = [_profile_label(r) for r in everyone if per_boot(r, name) is None]
        if missing:
            notes.append(f"{name}: not measured in {', '.join(missing)}")
    for r in everyone:
        if not r.status.complete:
            notes.append(f"{label(r)} is incomplete: {r.status.reason}")
    return Cost(
        reference=reference.name if reference is not None else None,
        profiles=tuple(_profile_label(p) for p in profiles),
        rows=tuple(rows),
        mode=profiles[0].setup.mode,
        forced=tuple(forced),
        notes=tuple(notes),
    )
