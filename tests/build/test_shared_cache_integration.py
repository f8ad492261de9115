"""Several ci_tools processes sharing one cache: each builds to a name of its own and
renames into place, so none moves another's file away (four cold runs once died with
FileNotFoundError on a shared bench.partial)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Child, at_once, write_config

pytestmark = pytest.mark.integration

BUILD = "from ci_tools.build.benchbin import build_bench; print(build_bench())"


def test_concurrent_bench_builds_on_a_cold_cache(tmp_path: Path) -> None:
    runs = at_once(BUILD, [[]] * 4, env={"CI_TOOLS_CACHE": str(tmp_path / "cache")})
    assert [run.returncode for run in runs] == [0, 0, 0, 0], [run.stderr for run in runs]
    (binary,) = {run.stdout.strip() for run in runs}  # one binary, the same for all
    assert os.access(binary, os.X_OK)
    leftovers = [p.name for p in Path(binary).parent.iterdir() if p.name != "bench"]
    assert leftovers == []  # no temporary file left behind


def test_a_killed_builds_leftover_is_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    env = {**os.environ, "CI_TOOLS_CACHE": str(tmp_path / "cache")}
    first = subprocess.run(
        [sys.executable, "-c", BUILD], env=env, capture_output=True, text=True, check=True
    )
    binary = Path(first.stdout.strip())
    binary.unlink()  # the next run builds again
    killed = binary.parent / ".build-killed"
    killed.mkdir()  # a build SIGKILLed mid-compile: nobody holds its folder
    (killed / "bench").write_bytes(b"\x7fELF half")
    live = Child(
        "from pathlib import Path\nfrom ci_tools.util import locks\n"
        f"locks.private_dir(Path({str(binary.parent)!r}), '.build-live')\nprint('ready')"
    )
    try:
        again = subprocess.run(
            [sys.executable, "-c", BUILD], env=env, capture_output=True, text=True, check=True
        )
        assert Path(again.stdout.strip()) == binary and os.access(binary, os.X_OK)
        assert sorted(p.name for p in binary.parent.iterdir()) == [".build-live", "bench"]
    finally:
        live.finish()


BUILD_KERNEL = """
import sys
from pathlib import Path
from ci_tools import config
from ci_tools.build import kernel
loaded = config.load(Path(sys.argv[1]))
print(kernel.build_image(loaded, loaded.profile(sys.argv[2])))
"""

SLOW_BUILD = """#!/bin/sh
# Every profile writes the same image path, as cargo does; slowly, in two halves.
mkdir -p out
printf 'kernel of ' > out/kernel.elf
sleep 1
printf '%s' "$CI_TOOLS_PROFILE" >> out/kernel.elf
"""


def test_two_runs_building_two_profiles_each_boot_their_own_image(tmp_path: Path) -> None:
    """Two profiles of one crate build to one image path: without the crate's lock and
    a private copy, one run would boot (and record) the other's kernel."""
    (tmp_path / "build.sh").write_text(SLOW_BUILD)
    (tmp_path / "build.sh").chmod(0o755)
    profiles = "".join(
        f'[profiles.{p}]\ntarget = "x86_64-unknown-none"\nfeatures = []\n'
        f'[profiles.{p}.bench]\nguest = "kernel"\nimage = "out/kernel.elf"\n'
        'build = { command = ["./build.sh"] }\n'
        for p in ("fortress", "ludicrous")
    )
    path = write_config(tmp_path, profiles)
    names = ("fortress", "ludicrous")
    runs = at_once(
        BUILD_KERNEL, [[str(path), p] for p in names], cwd=tmp_path,
        env={"CI_TOOLS_CACHE": str(tmp_path / "cache")},
    )  # fmt: skip
    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    for profile, run in zip(names, runs, strict=True):
        assert Path(run.stdout.strip()).read_text() == f"kernel of {profile}"
    said = "".join(run.stderr for run in runs)
    assert "waiting for another ci_tools run that is building this kernel" in said
