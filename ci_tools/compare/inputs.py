"""What ``compare`` reads from result files: labels, one value per boot, and
whether two results may be compared at all.

Inputs taken under different accelerators, modes, QEMU versions or
machines, CPU models or iteration counts are refused (``BadInputError``,
exit 3) unless forced; a forced table carries the differences in its notes.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

from ci_tools.compare.model import Side
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result


def label(result: Result) -> str:
    return result.path.name if result.path is not None else result.name


def unique_labels(results: Sequence[Result]) -> dict[int, str]:
    """id(result) -> a short label; more of the path where file names collide."""
    distinct = list({id(r): r for r in results}.values())
    for depth in range(1, 8):
        out = {}
        for r in distinct:
            if r.path is None:
                out[id(r)] = r.name
            else:
                out[id(r)] = "/".join(r.path.parts[-depth:])
        if len(set(out.values())) == len(out):
            return out
    return {id(r): f"{label(r)}#{i + 1}" for i, r in enumerate(distinct)}


def per_boot(result: Result, name: str) -> Side | None:
    """One value per boot (the median of its rounds, full precision); None if never measured."""
    by_boot = result.samples_by_boot(name)
    if not by_boot:
        return None
    values = tuple(float(statistics.median(by_boot[b])) for b in sorted(by_boot))
    if any(v <= 0 for v in values):
        return None
    return Side(values=values, samples=sum(len(v) for v in by_boot.values()))


def incompatibilities(a: Result, b: Result) -> list[str]:
    """Every reason the samples of ``a`` and ``b`` cannot be compared honestly."""
    la, lb = label(a), label(b)
    sa, sb = a.setup, b.setup
    out = []

    def differ(what: str, va: object, vb: object) -> None:
        if va != vb:
            out.append(f"{what} differs: {la} {va}, {lb} {vb}")

    differ("target kind", a.target.kind, b.target.kind)
    differ("accelerator", sa.accelerator, sb.accelerator)
    differ("mode", sa.mode, sb.mode)
    qa, qb = sa.qemu, sb.qemu
    differ("QEMU version", qa and qa.version, qb and qb.version)
    differ("QEMU machine", qa and qa.machine, qb and qb.machine)
    differ("guest memory (MiB)", qa and qa.memory_mb, qb and qb.memory_mb)
    differ("CPU model", sa.cpu_model, sb.cpu_model)
    if "wallclock" in (sa.mode, sb.mode):
        # Real time depends on the host; virtual time under -icount does not.
        differ("host CPU (wall-clock timing)", sa.host_cpu, sb.host_cpu)
    differ("quick/full mode", "quick" if sa.quick else "full", "quick" if sb.quick else "full")
    for name in a.benchmark_names():
        ia, ib = a.iterations(name), b.iterations(name)
        if ia and ib and ia != ib:
            out.append(f"iteration count of {name} differs: {la} {sorted(ia)}, {lb} {sorted(ib)}")
    return out


def check_compatible(
    pairs: Iterable[tuple[Result, Result]], *, force: bool, action: str = "compare"
) -> list[str]:
    """Refuse (BadInputError) unless forced; returns the overridden differences."""
    problems: list[str] = []
    for a, b in pairs:
        for p in incompatibilities(a, b):
            if p not in problems:
                problems.append(p)
    if problems and not force:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise BadInputError(
            f"cannot {action} these results honestly:\n{listing}",
            hint="measure both sides the same way; or pass --force to compare anyway "
            "(the table will say so)",
        )
    return problems
