"""A run's first boots: a side as it was at an earlier look (joined runs: test_merge)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ci_tools.errors import BadInputError
from ci_tools.results import combine, store
from ci_tools.results.model import Result

from conftest import FIXTURES

SOURCE = FIXTURES / "results" / "linux-det-8boots-a.json"


def renumbered(first_boot: int, boots: int) -> Result:
    """The fixture's first ``boots`` boots, numbered from ``first_boot`` (as --first-boot does)."""
    document: dict[str, Any] = json.loads(SOURCE.read_text())
    shift = {b["index"]: b["index"] + first_boot for b in document["boots"][:boots]}
    document["boots"] = [dict(b, index=shift[b["index"]]) for b in document["boots"][:boots]]
    document["setup"]["boots"] = boots
    for bench in document["benchmarks"].values():
        bench["samples"] = [dict(s, boot=shift[s["boot"]]) for s in bench["samples"]
                            if s["boot"] in shift]  # fmt: skip
    for values in document["extras"].values():
        values[:] = [dict(v, boot=shift[v["boot"]]) for v in values if v["boot"] in shift]
    store.validate(document, source="test")
    return Result(document, Path(f"part{first_boot}.json"))


def test_first_boots_is_the_side_as_it_was_at_an_earlier_look() -> None:
    whole = renumbered(0, 6)
    earlier = combine.first_boots(whole, 3)
    store.validate(earlier, source="first boots")
    assert [b["index"] for b in earlier["boots"]] == [0, 1, 2]
    assert earlier["setup"]["boots"] == 3
    assert {s["boot"] for s in earlier["benchmarks"]["stat"]["samples"]} == {0, 1, 2}
    assert earlier["benchmarks"] == renumbered(0, 3).data["benchmarks"]
    with pytest.raises(BadInputError, match="at least one"):
        combine.first_boots(whole, 0)


def test_first_boots_before_a_failed_boot_are_complete() -> None:
    document = copy.deepcopy(dict(renumbered(0, 4).data))
    failed = {"state": "incomplete", "kind": "hang", "reason": "boot 4 of 4: hang"}
    document["boots"][3]["status"] = failed
    document["status"] = failed
    result = Result(document, Path("r.json"))
    assert combine.first_boots(result, 3)["status"]["state"] == "complete"
    assert combine.first_boots(result, 4)["status"] == failed
