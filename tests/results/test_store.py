"""The result schema: itself valid, real results pass it, broken ones fail with every error."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ci_tools.errors import BadInputError, HarnessError
from ci_tools.results.store import SCHEMAS, load, save, validate
from ci_tools.util import schemas
from ci_tools.util.schemas import load_schema, schema_errors

from conftest import FIXTURES

VALID = sorted((FIXTURES / "schema").glob("valid-*.json"))


def document(name: str = "valid-linux-tcg-deterministic.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "schema" / name).read_text())
    return data


def test_schemas_are_valid_2020_12() -> None:
    for filename in SCHEMAS.values():
        schema = load_schema(filename)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_real_results_are_valid(path: Path) -> None:
    result = load(path)
    assert result.status.complete
    assert "getpid" in result.benchmark_names()
    assert all(v > 0 for v in result.samples("getpid"))


def _broken(mutate: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    mutate(doc)
    return doc


INVALID = {
    "missing-target": lambda d: d.pop("target"),
    "bad-sha256": lambda d: d["target"]["kernel"].update(sha256="xyz"),
    "unknown-accelerator": lambda d: d["setup"].update(accelerator="hvf"),
    "complete-with-reason": lambda d: d["status"].update(reason="but why"),
    "incomplete-without-reason": lambda d: d["status"].update(state="incomplete", kind="hang"),
    "zero-iterations": lambda d: d["benchmarks"]["getpid"]["samples"][0].update(iterations=0),
    "unknown-key": lambda d: d.update(colour="blue"),
    "bad-timestamp": lambda d: d["provenance"].update(started_at="yesterday"),
}


def test_format_checking_is_active() -> None:
    """The date-time checker is there: a declared dependency, not a lucky install."""
    assert set(schemas.FORMATS) <= set(schemas.format_checker().checkers)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    assert not checker.conforms("yesterday", "date-time")
    assert checker.conforms("2026-11-30T20:54:43Z", "date-time")


def test_without_a_format_checker_results_are_kept_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An environment without rfc3339-validator: the measured result is written all the
    same, and the user is told what is not checked and how to fix it."""
    no_formats = jsonschema.FormatChecker(formats=())
    monkeypatch.setattr(jsonschema.Draft202012Validator, "FORMAT_CHECKER", no_formats)
    schemas.format_checker.cache_clear()
    try:
        out = tmp_path / "kept.json"
        save(document(), out)
        assert load(out).status.complete
    finally:
        schemas.format_checker.cache_clear()
    err = capsys.readouterr().err
    assert err.count("cannot check the format date-time") == 1
    assert "pip install 'jsonschema[format-nongpl]'" in err


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_documents_are_rejected(case: str) -> None:
    doc = _broken(INVALID[case])
    assert schema_errors(doc, SCHEMAS[1])
    with pytest.raises(BadInputError, match="schema error"):
        validate(doc, source=case)


def test_every_error_is_reported_at_once() -> None:
    doc = _broken(lambda d: (d.pop("target"), d["setup"].update(accelerator="hvf")))
    with pytest.raises(BadInputError) as info:
        validate(doc, source="two.json")
    assert "2 schema error(s)" in info.value.message
    assert "$.setup.accelerator" in info.value.message


def test_unknown_version_is_refused_with_the_known_ones() -> None:
    doc = _broken(lambda d: d.update(schema_version=99))
    with pytest.raises(BadInputError, match=r"unknown schema_version 99.*reads version\(s\) 1"):
        validate(doc, source="future.json")


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"schema_version": 1,\n  "target": }')
    with pytest.raises(BadInputError, match=r"invalid JSON at line 2 column 13"):
        load(path)


def test_save_refuses_invalid_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    with pytest.raises(HarnessError):
        save(_broken(lambda d: d.pop("status")), out)
    assert list(tmp_path.iterdir()) == []


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.json"
    save(document(), out)
    assert load(out).data == document()
