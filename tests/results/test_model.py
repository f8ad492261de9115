"""The typed result document: what the builder writes is what the schema and the readers expect."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_tools.boot.outcome import COMPLETE, Status, StatusKind
from ci_tools.boot.protocol import parse_console
from ci_tools.results import store
from ci_tools.results.model import BootRecord, ResultBuilder, Setup, Target

from conftest import FIXTURES

DOCUMENTS = sorted((FIXTURES / "schema").glob("valid-*.json")) + sorted(
    (FIXTURES / "results").glob("*.json")
)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_typed_parts_round_trip_every_fixture(path: Path) -> None:
    data = json.loads(path.read_text())
    assert Target.from_dict(data["target"]).to_dict() == data["target"]
    assert Setup.from_dict(data["setup"]).to_dict() == {"bench_mode": None, **data["setup"]}
    for boot in data["boots"]:
        assert BootRecord.from_dict(boot).to_dict() == boot


def test_the_builder_writes_a_valid_result_that_reads_back(tmp_path: Path) -> None:
    log = (FIXTURES / "console" / "linux-quick-complete.log").read_text(errors="replace")
    parsed = parse_console(log)
    builder = ResultBuilder()
    for index in range(2):
        builder.add(index, parsed)
        builder.add_boot(
            BootRecord(index=index, cmdline="console=ttyS0", status=COMPLETE, wall_s=1.5,
                       console_log=f"r.boot{index}.console.log", forwarded_ports={22: 4022})
        )  # fmt: skip
    fixture = store.load(FIXTURES / "schema" / "valid-linux-tcg-deterministic.json")
    document = builder.document(target=fixture.target, setup=fixture.setup, status=COMPLETE)
    result = store.save(document, tmp_path / "r.json")

    assert result.target.suite == parsed.suite and result.setup.bench_mode == parsed.mode
    assert document["console_log"] == "r.boot0.console.log"
    assert [b.forwarded_ports for b in result.boots] == [{22: 4022}, {22: 4022}]
    names = [s.name for s in parsed.samples]
    assert result.benchmark_names() == list(dict.fromkeys(names))
    first = parsed.samples[0]
    assert result.samples_by_boot(first.name) == {
        0: [first.total_ns / first.iterations],
        1: [first.total_ns / first.iterations],
    }
    assert store.load(tmp_path / "r.json").data == document


def test_a_failed_boot_keeps_its_attempts_and_no_ports() -> None:
    failed = Status(kind=StatusKind.QEMU_FAILED, reason="no such CPU")
    record = BootRecord(index=0, cmdline=None, status=failed, wall_s=0.0, console_log=None,
                        attempts=(failed, failed))  # fmt: skip
    assert record.to_dict() == {
        "index": 0, "cmdline": None, "status": failed.to_dict(), "wall_s": 0.0,
        "console_log": None, "attempts": [failed.to_dict(), failed.to_dict()],
    }  # fmt: skip
