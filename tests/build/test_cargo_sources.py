"""Offline crate sources for -Z build-std with Debian's toolchain: the standard
library's vendored dependencies and the kernel's own, never one for the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.build import cargo_sources
from ci_tools.errors import SetupError

from conftest import Child, at_once


def _crates(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).mkdir(parents=True)
        (folder / name / "Cargo.toml").write_text(f"# {name} in {folder.name}\n")
    return folder


def _kernel(tmp_path: Path, cargo_config: str | None, lock: str = "") -> Path:
    crate = tmp_path / "repo" / "kernel"
    crate.mkdir(parents=True)
    if cargo_config is not None:
        (crate / ".cargo").mkdir()
        (crate / ".cargo" / "config.toml").write_text(cargo_config)
    (crate / "Cargo.lock").write_text(lock)
    return crate


LOCK_WITH_ARRAYVEC = """
[[package]]
name = "arrayvec"
version = "0.7.6"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "kernel"
version = "0.1.0"
"""

DIRECTORY_SOURCE = """
[source.crates-io]
replace-with = "vendored"
[source.vendored]
directory = "../third_party"
"""


@pytest.fixture(autouse=True)
def no_user_cargo_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARGO_HOME", str(tmp_path / "cargo-home"))


def _directory(args: tuple[str, ...]) -> Path:
    assert args[:2] == ("--config", 'source.crates-io.replace-with="ci-tools-offline"')
    prefix = "source.ci-tools-offline.directory="
    assert args[2] == "--config" and args[3].startswith(prefix)
    return Path(args[3][len(prefix) :].strip('"'))


def test_kernel_directory_source_is_merged_with_std_vendor(
    tmp_path: Path, isolated_cache: Path
) -> None:
    std = _crates(tmp_path / "std-vendor", "cfg-if-1.0.4", "hashbrown-0.16.1")
    ours = _crates(tmp_path / "repo" / "third_party", "arrayvec-0.7.6", "cfg-if-1.0.4")
    crate = _kernel(tmp_path, DIRECTORY_SOURCE, LOCK_WITH_ARRAYVEC)
    merged = _directory(cargo_sources.offline_source_args(crate, crate / "Cargo.lock", std))
    assert merged.parent == isolated_cache / "cargo-sources"
    assert sorted(p.name for p in merged.iterdir()) == [
        "arrayvec-0.7.6", "cfg-if-1.0.4", "hashbrown-0.16.1",
    ]  # fmt: skip
    assert (merged / "arrayvec-0.7.6").resolve() == ours / "arrayvec-0.7.6"
    # A crate in both: the standard library is built against its own copy.
    assert (merged / "cfg-if-1.0.4").resolve() == std / "cfg-if-1.0.4"
    # Made once: the same inputs give the same folder, and no staging folder is left.
    again = _directory(cargo_sources.offline_source_args(crate, crate / "Cargo.lock", std))
    assert again == merged
    assert [p.name for p in merged.parent.iterdir()] == [merged.name]


def test_config_in_a_parent_folder_is_found_and_relative_to_it(tmp_path: Path) -> None:
    crate = _kernel(tmp_path, None)
    (tmp_path / "repo" / ".cargo").mkdir()
    (tmp_path / "repo" / ".cargo" / "config.toml").write_text(
        DIRECTORY_SOURCE.replace("../third_party", "third_party")
    )
    found = cargo_sources.kernel_replacement(crate)
    assert found is not None and found.name == "vendored"
    assert found.directory == tmp_path / "repo" / "third_party"
    # The kernel's own folder is more specific than its parent's.
    (crate / ".cargo").mkdir()
    (crate / ".cargo" / "config.toml").write_text('[source.vendored]\ndirectory = "here"\n')
    found = cargo_sources.kernel_replacement(crate)
    assert found is not None and found.directory == crate / "here"


def test_no_replacement_and_dependencies_std_lacks_is_a_setup_error(tmp_path: Path) -> None:
    std = _crates(tmp_path / "std-vendor", "cfg-if-1.0.4")
    crate = _kernel(tmp_path, None, LOCK_WITH_ARRAYVEC)
    with pytest.raises(SetupError) as caught:
        cargo_sources.offline_source_args(crate, crate / "Cargo.lock", std)
    assert "arrayvec-0.7.6" in caught.value.message
    assert "does not replace crates-io" in caught.value.message
    assert caught.value.hint is not None and "cargo vendor" in caught.value.hint


def test_registry_replacement_cannot_be_merged(tmp_path: Path) -> None:
    std = _crates(tmp_path / "std-vendor", "cfg-if-1.0.4")
    mirror = '[source.crates-io]\nreplace-with = "mirror"\n[source.mirror]\nregistry = "x"\n'
    crate = _kernel(tmp_path, mirror, LOCK_WITH_ARRAYVEC)
    with pytest.raises(SetupError, match="'mirror', which is not a directory source"):
        cargo_sources.offline_source_args(crate, crate / "Cargo.lock", std)


def test_no_dependencies_use_the_std_vendor_folder(tmp_path: Path) -> None:
    std = _crates(tmp_path / "std-vendor", "cfg-if-1.0.4")
    crate = _kernel(tmp_path, None, '[[package]]\nname = "kernel"\nversion = "0.1.0"\n')
    assert _directory(cargo_sources.offline_source_args(crate, crate / "Cargo.lock", std)) == std


def test_unreadable_cargo_config_names_the_file(tmp_path: Path) -> None:
    crate = _kernel(tmp_path, "[source.crates-io\n")
    with pytest.raises(SetupError, match=r"cannot read cargo configuration .*config\.toml"):
        cargo_sources.kernel_replacement(crate)


def test_a_kernel_source_folder_lacking_locked_crates_is_named(tmp_path: Path) -> None:
    """Not cargo's bare 'no matching package': which folder, which crates, the fix."""
    std = _crates(tmp_path / "std-vendor", "cfg-if-1.0.4")
    crate = _kernel(tmp_path, DIRECTORY_SOURCE, LOCK_WITH_ARRAYVEC)  # ../third_party missing
    with pytest.raises(SetupError) as caught:
        cargo_sources.offline_source_args(crate, crate / "Cargo.lock", std)
    assert "third_party (the folder does not exist), which lacks arrayvec-0.7.6" in (
        caught.value.message
    )
    assert caught.value.hint is not None and "librust-" in caught.value.hint


MERGE = """
import sys
from pathlib import Path
from ci_tools.build import cargo_sources
print("ready", flush=True)
for _ in range(20):
    print(cargo_sources.merged_directory(Path(sys.argv[1]), Path(sys.argv[2])), flush=True)
"""


def test_runs_merging_at_once_share_one_whole_folder_and_sweep_a_killed_ones(
    tmp_path: Path, isolated_cache: Path
) -> None:
    """Four processes make the merged folder at once on a cold cache: each gets the
    same, whole folder; the staging folder of a run killed while linking (its lock
    gone with it) is swept; a live run's is not."""
    std = _crates(tmp_path / "std-vendor", *(f"std-{n}-1.0.0" for n in range(200)))
    ours = _crates(tmp_path / "third_party", *(f"ours-{n}-1.0.0" for n in range(200)))
    sources = isolated_cache / "cargo-sources"
    sources.mkdir(parents=True)
    killed = sources / ".partial-killed"
    killed.mkdir()  # a run SIGKILLed mid-link: nobody holds it
    (killed / "crates").mkdir()
    live = Child(
        "from pathlib import Path\nfrom ci_tools.util import locks\n"
        f"locks.private_dir(Path({str(sources)!r}), '.partial-live')\nprint('ready')"
    )
    try:
        runs = at_once(MERGE, [[str(std), str(ours)]] * 4)
        assert [run.returncode for run in runs] == [0, 0, 0, 0], [r.stderr for r in runs]
        (merged,) = {line for run in runs for line in run.stdout.split()[1:]}
        assert len(list(Path(merged).iterdir())) == 400
        assert sorted(p.name for p in sources.iterdir()) == [".partial-live", Path(merged).name]
    finally:
        live.finish()
