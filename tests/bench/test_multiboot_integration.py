"""The demo kernel built with its boot-multiboot feature and booted the way Kevlar
boots: a 64-bit ELF with a multiboot1 header, which QEMU's multiboot loader takes
only from a copy whose e_machine says EM_386 (boot = "multiboot-elf64")."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_tools.errors import ExitCode
from ci_tools.results import store

from guest import REPO, run_cli

pytestmark = pytest.mark.integration

PROFILE = "ludicrous"


def _config(folder: Path, boot: str) -> Path:
    """The repo's config, the crate by absolute path, and one profile built with
    the multiboot header and booted with ``boot``."""
    text = (REPO / "ci_tools.toml").read_text()
    features = f'features = ["profile-{PROFILE}"]'
    assert features in text and 'crate = "examples/kernel"' in text
    text = text.replace('crate = "examples/kernel"', f'crate = "{REPO / "examples" / "kernel"}"')
    text = text.replace(features, f'features = ["profile-{PROFILE}", "boot-multiboot"]')
    text += f'\n[profiles.{PROFILE}.bench]\nboot = "{boot}"\n'
    config = folder / f"ci_tools-{boot}.toml"
    config.write_text(text)
    return config


@pytest.fixture(scope="module", autouse=True)
def own_target_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A target dir of this module's own: the multiboot image must not replace the
    PVH image of the crate's target/ (the README's QEMU command boots that one)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CARGO_TARGET_DIR", str(tmp_path_factory.mktemp("cargo-target")))
        yield


def _bench(config: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return run_cli("bench", "profile", PROFILE, "--config", str(config), "--quick",
                   "--rounds", "2", "--benchmarks", "trap", "-o", str(out))  # fmt: skip


def test_the_multiboot_image_boots_from_its_em_386_copy(tmp_path: Path) -> None:
    out = tmp_path / "multiboot.json"
    run = _bench(_config(tmp_path, "multiboot-elf64"), out)
    assert run.returncode == ExitCode.OK, run.stderr
    result = store.load(out)
    assert result.status.complete
    assert result.benchmark_names() == ["trap"]
    assert sorted(s["round"] for s in result.data["benchmarks"]["trap"]["samples"]) == [1, 2]
    assert result.setup.qemu is not None
    command = result.setup.qemu.command
    kernel = command[command.index("-kernel") + 1]
    assert kernel.endswith(".elf32-machine"), command
    patched = Path(kernel).read_bytes()
    assert patched[4] == 2 and int.from_bytes(patched[18:20], "little") == 3  # ELF64, EM_386


@pytest.fixture(scope="module")
def unpatched_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The same image booted as it is (boot = "kernel"): QEMU refuses an x86-64 ELF
    with a multiboot header."""
    folder = tmp_path_factory.mktemp("unpatched")
    return _bench(_config(folder, "kernel"), folder / "kernel.json")


def test_the_unpatched_multiboot_image_does_not_run(
    unpatched_run: subprocess.CompletedProcess[str],
) -> None:
    assert unpatched_run.returncode not in (ExitCode.OK, ExitCode.HARNESS), unpatched_run.stderr
    assert "Traceback" not in unpatched_run.stderr
    assert ".elf32-machine" not in unpatched_run.stderr


def test_qemu_refuses_the_unpatched_multiboot_image(
    unpatched_run: subprocess.CompletedProcess[str],
) -> None:
    """QEMU's own refusal (exit 1, nothing on the console) is QEMU failing, in its own
    words, even though 1 is also the exit device's success status."""
    assert unpatched_run.returncode == ExitCode.QEMU_FAILED, unpatched_run.stderr
    assert "Cannot load x86-64 image, give a 32bit one" in unpatched_run.stderr
    assert "Traceback" not in unpatched_run.stderr
