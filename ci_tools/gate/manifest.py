"""The artifact folder ``bench-pr`` writes and the comment workflow reads:

    manifest.json                  PR number, commits, how each run ended
    results/<profile>.base.json    result files (schemas/results-v1)
    results/<profile>.head.json
    summary.md                     the tables of the job summary

The manifest is checked against ``schemas/bench-pr-v1.schema.json`` when it
is written and when it is read; a fork's pull request controls what is in
it, so reading it trusts nothing: it is read through ``util.jsonfile`` (at
most ``MANIFEST_LIMIT`` bytes, a regular file and no symbolic link).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from ci_tools.errors import BadInputError, CiToolsError
from ci_tools.util import files, jsonfile, schemas

MANIFEST = "manifest.json"
MANIFEST_LIMIT = 1 << 20  # a manifest of 100 profiles is about 20 KiB
MANIFEST_SCHEMA = "bench-pr-v1.schema.json"
SIDES = ("base", "head")


@cache
def _profile_name() -> re.Pattern[str]:
    """A profile name as the manifest schema allows it: paths are built from it."""
    schema = schemas.load_schema(MANIFEST_SCHEMA)
    return re.compile(schema["properties"]["profiles"]["items"]["properties"]["name"]["pattern"])


def check_profile_name(name: str) -> None:
    """BadInputError unless ``name`` is a profile name the manifest may hold."""
    if not _profile_name().match(name):
        raise BadInputError(f"invalid profile name {name!r}")


def result_path(folder: Path, profile: str, side: str) -> Path:
    """``results/<profile>.<side>.json``: the file name is the label compare shows."""
    return folder / "results" / f"{profile}.{side}.json"


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    errors = schemas.schema_errors(manifest, MANIFEST_SCHEMA)
    if errors:  # pragma: no cover - a bug here
        raise CiToolsError(f"refusing to write an invalid manifest: {errors}")
    files.write_atomic(path, json.dumps(manifest, indent=2) + "\n")


def load_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    document = jsonfile.read_json(path, limit=MANIFEST_LIMIT, within=folder)
    errors = schemas.schema_errors(document, MANIFEST_SCHEMA)
    if errors:
        listing = "\n".join(f"  - {e}" for e in errors[:20])
        raise BadInputError(f"{path}: {len(errors)} error(s) against {MANIFEST_SCHEMA}:\n{listing}")
    names = [p["name"] for p in document["profiles"]]
    if len(set(names)) != len(names):
        raise BadInputError(f"{path}: a profile is listed twice")
    return document  # type: ignore[no-any-return]
