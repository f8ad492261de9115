"""``ci_tools merge``: the result files of shards of one run, joined into one.

Shards (``--shard I/N``, ``--first-boot K``) measure different boots of the
same setup, on one runner or several.  Their boots are joined in index
order into the file a single run of all of them would have written; inputs
that measured something else (another kernel, initramfs, bench binary, QEMU,
machine, CPU model, mode, accelerator, iteration counts) or the same boot
twice are refused, so a merged file can never mix two setups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ci_tools.boot.outcome import COMPLETE
from ci_tools.errors import BadInputError
from ci_tools.results.model import Result, ResultBuilder
from ci_tools.results.store import save


def fingerprint(result: Result) -> dict[str, object]:
    """What must be equal for two files' boots to belong to one run."""
    target, setup = result.target, result.setup
    qemu = setup.qemu
    return {
        "target": f"{target.kind} {target.name}",
        "kernel": target.kernel_sha256,
        "initramfs": target.initramfs_sha256,
        "bench binary": target.bench_binary_sha256,
        "accelerator": setup.accelerator,
        "mode": setup.mode,
        "quick/full": "quick" if setup.quick else "full",
        "rounds": setup.rounds,
        "QEMU version": qemu and qemu.version,
        "QEMU machine": qemu and qemu.machine,
        "guest memory (MiB)": qemu and qemu.memory_mb,
        "CPU model": setup.cpu_model,
        # Real time depends on the host; virtual time under -icount does not.
        "host CPU": setup.host_cpu if setup.mode == "wallclock" else None,
        "measured commit": result.data["provenance"]["git_commit"],
        "ci_tools version": result.data["provenance"]["ci_tools_version"],
    }


def _first_boot(result: Result) -> int:
    return min((b.index for b in result.boots), default=0)


def merge(results: Sequence[Result], out: Path) -> Result:
    """Join ``results`` (at least two) into ``out``; BadInputError (exit 3) if they
    are not shards of one run."""
    if len(results) < 2:
        raise BadInputError("merge needs two or more result files", hint="name every shard's file")
    results = sorted(results, key=_first_boot)
    first = results[0]
    reference = fingerprint(first)
    problems = []
    for other in results[1:]:
        theirs = fingerprint(other)
        for key, value in reference.items():
            if theirs[key] != value:
                problems.append(f"{key}: {first.path} {value}, {other.path} {theirs[key]}")
        for name in set(first.benchmark_names()) & set(other.benchmark_names()):
            mine, its = sorted(first.iterations(name)), sorted(other.iterations(name))
            if mine != its:
                problems.append(f"iterations of {name}: {first.path} {mine}, {other.path} {its}")
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise BadInputError(
            f"these results are not shards of one run, their setups differ:\n{listing}",
            hint="merge only the shards of one bench command (same kernel, config and options "
            "apart from --shard/--first-boot)",
        )
    seen: dict[int, Path | None] = {}
    for result in results:
        for boot in result.boots:
            if boot.index in seen:
                raise BadInputError(
                    f"boot {boot.index + 1} is in both {seen[boot.index]} and {result.path}",
                    hint="merge each shard once; shards of one run never share a boot",
                )
            seen[boot.index] = result.path
    builder = ResultBuilder(started_at=min(r.data["provenance"]["started_at"] for r in results))
    for result in results:
        builder.add_result(result, console_logs=out.resolve().parent)
    broken = [r.status for r in results if not r.status.complete]
    setup = replace(first.setup, boots=len(seen))
    document = builder.document(
        target=first.target, setup=setup, status=broken[0] if broken else COMPLETE
    )
    # What was measured, where and by which ci_tools: the shards', not this process's
    # (bench-pr joins the merge base's boots from the head's checkout).
    measured = first.data["provenance"]
    document["provenance"] = {
        **document["provenance"],
        **{key: measured[key] for key in ("host", "git_commit", "git_dirty", "ci_tools_version")},
        "finished_at": max(r.data["provenance"]["finished_at"] for r in results),
    }
    return save(document, out)
