"""Result files on disk: the versioned schema, validation on write and on read, atomic writes.

The JSON Schema in ``schemas/results-v<N>.schema.json`` is the one source of
truth for the file format; ``model.Result`` is a read-only view over a
document that passed it.  Readers accept the versions in ``SCHEMAS`` and
reject any other with a message that says which versions this ci_tools reads.

A result file may come from a fork's pull request: it is read through
``util.jsonfile`` (at most ``RESULT_LIMIT`` bytes, a regular file, bounded
nesting and numbers; below ``within`` no symbolic links).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_tools.errors import BadInputError, HarnessError
from ci_tools.results.model import Result
from ci_tools.util.files import write_atomic
from ci_tools.util.jsonfile import read_json
from ci_tools.util.schemas import schema_errors

SCHEMAS = {1: "results-v1.schema.json"}
# The largest result file read: 64 boots x 10 rounds of 30 benchmarks is about 5 MiB.
RESULT_LIMIT = 32 << 20


def validate(document: Any, *, source: str) -> None:
    """Raise BadInputError listing every schema violation at once."""
    if not isinstance(document, dict):
        raise BadInputError(f"{source}: not a ci_tools result (top level is not an object)")
    version = document.get("schema_version")
    filename = SCHEMAS.get(version) if isinstance(version, int) else None
    if filename is None:
        known = ", ".join(str(v) for v in sorted(SCHEMAS))
        raise BadInputError(
            f"{source}: unknown schema_version {version!r}; this ci_tools reads version(s) {known}",
            hint="re-run the benchmark with this ci_tools, or upgrade ci_tools to read newer files",
        )
    errors = schema_errors(document, filename)
    if errors:
        listing = "\n".join(f"  - {e}" for e in errors[:50])
        more = f"\n  ... and {len(errors) - 50} more" if len(errors) > 50 else ""
        raise BadInputError(
            f"{source}: {len(errors)} schema error(s) against {filename}:\n{listing}{more}",
            hint="the file was not written by a compatible ci_tools, or was edited by hand",
        )


def load(path: Path, *, within: Path | None = None) -> Result:
    """A result file, validated; ``within``: the untrusted folder it must not link out of."""
    document = read_json(path, limit=RESULT_LIMIT, within=within)
    validate(document, source=str(path))
    return Result(document, path)


def save(document: Mapping[str, Any], path: Path) -> Result:
    """Validate, then write atomically.  An invalid document is a bug in ci_tools."""
    try:
        validate(document, source="result about to be written")
    except BadInputError as exc:
        raise HarnessError(f"refusing to write an invalid result to {path}: {exc.message}") from exc
    write_atomic(path, json.dumps(document, indent=2, sort_keys=False) + "\n")
    return Result(document, path)
