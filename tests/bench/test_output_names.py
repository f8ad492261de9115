"""Default result names: two runs started in the same second never share one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ci_tools.bench import run
from ci_tools.bench.run import default_output, save_result

from conftest import FIXTURES

RUN = FIXTURES / "results" / "linux-det-8boots-a.json"


class _Frozen(dt.datetime):
    @classmethod
    def now(cls, tz: dt.tzinfo | None = None) -> _Frozen:
        return cls(2026, 12, 1, 2, 0, 0)


@pytest.fixture(autouse=True)
def one_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run starts in the same second."""
    monkeypatch.setattr(run.dt, "datetime", _Frozen)


def test_runs_started_together_claim_different_names(tmp_path: Path) -> None:
    names = [default_output("linux", tmp_path).name for _ in range(3)]
    assert names == [
        "linux-20261201-020000.json", "linux-20261201-020000-2.json",
        "linux-20261201-020000-3.json",
    ]  # fmt: skip
    assert not any((tmp_path / n).exists() for n in names)  # a claim is not an (empty) result


def test_a_written_result_keeps_its_name_and_drops_its_claim(tmp_path: Path) -> None:
    out = default_output("linux", tmp_path)
    save_result(json.loads(RUN.read_text()), out)
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == [out.name]
    # a later run in the same second cannot take the name of a result that exists
    assert default_output("linux", tmp_path).name == "linux-20261201-020000-2.json"
