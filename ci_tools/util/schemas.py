"""The JSON Schemas ci_tools ships (``schemas/``): loaded once, errors as readable lines.

Results, the config and the bench-pr manifest are each checked against
their schema here; what a schema violation means is for their modules to say.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from ci_tools import output
from ci_tools.util.paths import data_file


@cache
def load_schema(filename: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(data_file(f"schemas/{filename}").read_text())
    return schema


# The formats our schemas use.  jsonschema checks each only when its optional
# checker package is installed (date-time: rfc3339-validator, which the
# `format-nongpl` extra in pyproject.toml brings); without it a timestamp of
# "yesterday" would pass in silence.
FORMATS = ("date-time",)


@cache
def format_checker() -> jsonschema.FormatChecker:
    """jsonschema's checker; says once, as a warning, which of our formats it cannot
    check.  A warning, not an error: a result measured for minutes is still written."""
    checker: jsonschema.FormatChecker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    missing = [f for f in FORMATS if f not in checker.checkers]
    if missing:
        output.warn(
            f"jsonschema cannot check the format {', '.join(missing)} (its checker package is "
            "not installed), so such fields are not validated; fix: pip install "
            "'jsonschema[format-nongpl]' (or reinstall ci_tools)"
        )
    return checker


def schema_errors(document: Any, filename: str) -> list[str]:
    """Every way ``document`` breaks the schema, as 'path: message' lines."""
    schema = load_schema(filename)
    validator = jsonschema.Draft202012Validator(schema, format_checker=format_checker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{_json_path(e.absolute_path)}: {e.message}" for e in errors]


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out
