"""Joined runs (more boots of one side) and a run's first boots (a side at an earlier look)."""

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


def test_joined_runs_hold_every_boot_and_sample_once() -> None:
    first, more = renumbered(0, 3), renumbered(3, 2)
    joined = combine.join_boots([first, more])
    store.validate(joined, source="joined")
    assert [b["index"] for b in joined["boots"]] == [0, 1, 2, 3, 4]
    assert joined["setup"]["boots"] == 5
    getpid = joined["benchmarks"]["getpid"]["samples"]
    assert sorted(s["boot"] for s in getpid) == [0, 1, 2, 3, 4]
    # the inputs are not edited
    assert len(first.data["boots"]) == 3 and first.data["setup"]["boots"] == 3


def test_the_same_boot_index_twice_is_refused() -> None:
    with pytest.raises(BadInputError, match="boot index 2 is already in an earlier run"):
        combine.join_boots([renumbered(0, 3), renumbered(2, 2)])


def test_runs_of_another_setup_cannot_join() -> None:
    other = copy.deepcopy(dict(renumbered(3, 2).data))
    other["setup"]["quick"] = not other["setup"]["quick"]
    with pytest.raises(BadInputError, match="setup quick differs"):
        combine.join_boots([renumbered(0, 3), Result(other, Path("other.json"))])


def test_an_incomplete_part_makes_the_joined_run_incomplete() -> None:
    broken = copy.deepcopy(dict(renumbered(3, 2).data))
    broken["status"] = {"state": "incomplete", "kind": "hang", "reason": "boot 5 of 5: hang"}
    joined = combine.join_boots([renumbered(0, 3), Result(broken, Path("b.json"))])
    assert joined["status"]["kind"] == "hang"


def test_first_boots_is_the_side_as_it_was_at_an_earlier_look() -> None:
    whole = Result(combine.join_boots([renumbered(0, 3), renumbered(3, 3)]), Path("w.json"))
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
