"""The JSON Schemas ci_tools ships (``schemas/``): loaded once, errors as readable lines.

Results, the config and the bench-pr manifest are each checked against
their schema here; what a schema violation means is for their modules to say.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from ci_tools.util.paths import data_file


@cache
def load_schema(filename: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(data_file(f"schemas/{filename}").read_text())
    return schema


def schema_errors(document: Any, filename: str) -> list[str]:
    """Every way ``document`` breaks the schema, as 'path: message' lines."""
    schema = load_schema(filename)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
