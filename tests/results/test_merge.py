"""``ci_tools merge``: shards of one run joined into the file one run would write."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ci_tools.cli import main
from ci_tools.compare.inputs import per_boot
from ci_tools.errors import BadInputError, ExitCode
from ci_tools.results import store
from ci_tools.results.merge import merge

from conftest import FIXTURES

RUN = FIXTURES / "results" / "linux-det-8boots-a.json"


def shard(document: dict[str, Any], keep: set[int]) -> dict[str, Any]:
    """The part of a run a shard measuring boots ``keep`` would have written."""
    part = copy.deepcopy(document)
    part["boots"] = [b for b in part["boots"] if b["index"] in keep]
    for bench in part["benchmarks"].values():
        bench["samples"] = [s for s in bench["samples"] if s["boot"] in keep]
    part["extras"] = {
        name: [v for v in values if v["boot"] in keep] for name, values in part["extras"].items()
    }
    part["setup"]["boots"] = len(keep)
    part["console_log"] = part["boots"][0]["console_log"]
    return part


def write(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def shards(tmp_path: Path, count: int = 2) -> tuple[dict[str, Any], list[Path]]:
    document = json.loads(RUN.read_text())
    boots = [b["index"] for b in document["boots"]]
    paths = [
        write(tmp_path / f"shard{i}" / "r.json", shard(document, set(boots[i::count])))
        for i in range(count)
    ]
    return document, paths


def test_merged_shards_are_the_run_they_were_cut_from(tmp_path: Path) -> None:
    document, paths = shards(tmp_path, 3)
    merged = merge([store.load(p) for p in reversed(paths)], tmp_path / "merged.json")
    whole = store.load(RUN)
    assert [b.index for b in merged.boots] == [b.index for b in whole.boots]
    assert merged.data["benchmarks"] == document["benchmarks"]  # sorted by boot, then round
    assert merged.data["extras"] == document["extras"]
    assert merged.setup == whole.setup and merged.target == whole.target
    assert merged.status.complete
    # What compare reads is the same, so it compares exactly as the unsharded run.
    for name in whole.benchmark_names():
        assert per_boot(merged, name) == per_boot(whole, name)
    # Console logs stay findable from the merged file's folder.
    assert merged.boots[1].console_log == f"shard1/{document['boots'][1]['console_log']}"


def test_a_shard_of_another_setup_is_refused_with_every_difference(tmp_path: Path) -> None:
    _, paths = shards(tmp_path)
    other = json.loads(paths[1].read_text())
    other["setup"]["qemu"]["machine"] = "microvm"
    other["target"]["kernel"]["sha256"] = "0" * 64
    write(paths[1], other)
    with pytest.raises(BadInputError, match="not shards of one run") as caught:
        merge([store.load(p) for p in paths], tmp_path / "m.json")
    assert "QEMU machine: " in caught.value.message and "kernel: " in caught.value.message
    assert not (tmp_path / "m.json").exists()


def test_the_same_boot_twice_is_refused(tmp_path: Path) -> None:
    _, paths = shards(tmp_path)
    with pytest.raises(BadInputError, match="boot 1 is in both"):
        merge([store.load(paths[0]), store.load(paths[0])], tmp_path / "m.json")


def test_merge_on_the_command_line_exits_3_naming_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, paths = shards(tmp_path)
    other = json.loads(paths[1].read_text())
    other["setup"]["mode"] = "wallclock"
    write(paths[1], other)
    assert main(["merge", *map(str, paths), "-o", str(tmp_path / "m.json")]) == ExitCode.BAD_INPUT
    assert "mode: " in capsys.readouterr().err
    assert main(["merge", str(paths[0]), "-o", str(tmp_path / "m.json")]) == ExitCode.BAD_INPUT


def test_an_incomplete_shard_makes_an_incomplete_merge(tmp_path: Path) -> None:
    _, paths = shards(tmp_path)
    broken = json.loads(paths[1].read_text())
    broken["status"] = {
        "state": "incomplete", "kind": "interrupted", "reason": "boot 2 of 8: interrupted (Ctrl-C)"
    }  # fmt: skip
    write(paths[1], broken)
    merged = merge([store.load(p) for p in paths], tmp_path / "m.json")
    assert merged.status.kind.value == "interrupted"


def test_the_merge_keeps_the_provenance_of_what_was_measured(tmp_path: Path) -> None:
    """bench-pr joins the merge base's boots from the head's checkout: the joined file
    must still name the commit, host and ci_tools that measured them."""
    _, paths = shards(tmp_path)
    for i, path in enumerate(paths):
        part = json.loads(path.read_text())
        part["provenance"].update(
            host="runner-7", git_commit="b" * 40, git_dirty=False, ci_tools_version="0.0.9",
            finished_at=f"2026-11-0{i + 1}T10:00:00Z",
        )  # fmt: skip
        write(path, part)
    merged = merge([store.load(p) for p in paths], tmp_path / "merged.json")
    provenance = merged.data["provenance"]
    assert provenance["git_commit"] == "b" * 40 and provenance["host"] == "runner-7"
    assert provenance["ci_tools_version"] == "0.0.9" and provenance["git_dirty"] is False
    assert provenance["finished_at"] == "2026-11-02T10:00:00Z"  # the later shard's end
