"""The KVM verdict, shared by the runs of one machine: one test boot for all the runs
that start at once, the others waiting for its verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.boot import accel
from ci_tools.host import provision

from conftest import at_once

pytestmark = pytest.mark.integration

VERDICT = """
import sys
from pathlib import Path
from ci_tools.boot import accel
print(accel.kvm_verdict(Path(sys.argv[1])).kind)
"""


def test_runs_starting_at_once_share_one_kvm_test_boot(tmp_path: Path) -> None:
    if accel.open_device() is not None:
        pytest.skip("/dev/kvm cannot be opened here: there is no test boot to share")
    kernel = str(provision.ensure_guest_kernel())
    cache = tmp_path / "cache"
    runs = at_once(VERDICT, [[kernel]] * 3, env={"CI_TOOLS_CACHE": str(cache)})
    assert [run.returncode for run in runs] == [0, 0, 0], [run.stderr for run in runs]
    assert len({run.stdout for run in runs}) == 1  # one verdict for all
    probes = [run for run in runs if "probing KVM" in run.stderr]
    assert len(probes) == 1, [run.stderr for run in runs]
    # The test boot's scratch folder is gone; only the verdict and its lock remain.
    assert [p.name for p in (cache / "tmp").iterdir()] == []
    assert sorted(p.suffix for p in (cache / "kvm-probe").iterdir()) == [".json", ".lock"]
