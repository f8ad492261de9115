"""Local inputs of ``ci_tools history``: result files, history records, and folders of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ci_tools import output
from ci_tools.errors import BadInputError
from ci_tools.history.record import FORMAT, Record
from ci_tools.results import store
from ci_tools.results.model import Result


def load(paths: Sequence[Path]) -> tuple[list[Result], list[Record]]:
    """Every result file and history record named, or found under a named folder.

    A named file must be one or the other (else ``BadInputError``, exit 3); in a
    folder, other JSON files (a bench-pr manifest, a calibration) are passed over
    with a note, so ``results/`` can be given as it is."""
    results: list[Result] = []
    records: list[Record] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.json") if p.is_file())
            for p in found:
                _one(p, results, records, in_folder=True)
        elif path.is_file():
            _one(path, results, records, in_folder=False)
        else:
            raise BadInputError(
                f"{path}: no such file or folder",
                hint="give result files, history records, or folders holding them",
            )
    return results, records


def _one(path: Path, results: list[Result], records: list[Record], *, in_folder: bool) -> None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if in_folder:
            output.info(f"history: {path} passed over: not readable JSON ({exc})")
            return
        raise BadInputError(f"{path}: not readable JSON: {exc}") from exc
    if isinstance(document, dict) and document.get("format") == FORMAT:
        records.append(Record.from_dict(document, source=str(path)))
    elif isinstance(document, dict) and "schema_version" in document:
        store.validate(document, source=str(path))
        results.append(Result(document, path))
    elif in_folder:
        output.info(f"history: {path} passed over: not a ci_tools result or history record")
    else:
        raise BadInputError(
            f"{path}: not a ci_tools result file or history record",
            hint="give the JSON files `ci_tools bench` writes, or records of the history branch",
        )
