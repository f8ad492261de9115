"""Several ci_tools processes sharing one cache: each builds to a name of its own and
renames into place, so none moves another's file away (four cold runs once died with
FileNotFoundError on a shared bench.partial)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BUILD = "from ci_tools.build.benchbin import build_bench; print(build_bench())"


def test_concurrent_bench_builds_on_a_cold_cache(tmp_path: Path) -> None:
    env = {**os.environ, "CI_TOOLS_CACHE": str(tmp_path / "cache")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [err for _, err in outputs]
    (binary,) = {out.strip() for out, _ in outputs}  # one binary, the same for all
    assert os.access(binary, os.X_OK)
    leftovers = [p.name for p in Path(binary).parent.iterdir() if p.name != "bench"]
    assert leftovers == []  # no temporary file left behind
