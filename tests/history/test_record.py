"""The history record's schema and its round trip."""

from __future__ import annotations

import json

import jsonschema
import pytest

from ci_tools.errors import BadInputError
from ci_tools.history import record, store
from ci_tools.util import schemas

import history_fake as hf


def test_the_record_schema_is_valid_against_its_meta_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(schemas.load_schema(record.SCHEMA))


def test_a_record_round_trips_through_its_file() -> None:
    original = hf.history(n=2, profiles=("fortress",))[1]
    back = record.Record.from_dict(json.loads(store.encode(original)), source="r.json")
    assert back == record.Record(**{**original.__dict__, "result": back.result})
    assert back.result.data == original.result.data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"commit": "HEAD"}, "does not match"),
        ({"date": "yesterday"}, "is not a 'date-time'"),
        ({"extra": 1}, "Additional properties are not allowed"),
        ({"format": "other"}, "not a ci_tools history record"),
    ],
)
def test_an_invalid_record_is_refused_with_the_cause(
    change: dict[str, object], message: str
) -> None:
    document = json.loads(store.encode(hf.history(n=1, profiles=("fortress",))[0]))
    with pytest.raises(BadInputError, match=message):
        record.Record.from_dict({**document, **change}, source="r.json")


def test_the_result_inside_is_validated_too() -> None:
    document = json.loads(store.encode(hf.history(n=1, profiles=("fortress",))[0]))
    del document["result"]["benchmarks"]
    expected = r"(?s)r.json \(its result\).*'benchmarks' is a required"
    with pytest.raises(BadInputError, match=expected):
        record.Record.from_dict(document, source="r.json")
