"""No stale kernels: the build script's declarations, and the image-changed check."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools import config
from ci_tools.build import kernel
from ci_tools.errors import BuildError

from conftest import FIXTURES, REPO

DEMO_MANIFEST = REPO / "examples" / "kernel" / "Cargo.toml"
STALE_MANIFEST = FIXTURES / "kernel-stale" / "Cargo.toml"


def test_demo_kernel_declares_init_script() -> None:
    script = kernel.build_script(DEMO_MANIFEST)
    assert script == DEMO_MANIFEST.parent / "build.rs"
    assert kernel.declared_variables(script) == {"INIT_SCRIPT"}
    kernel.check_rerun_declarations(DEMO_MANIFEST, {"INIT_SCRIPT": "/bin/bench"})


def test_missing_declaration_names_the_line_to_add() -> None:
    with pytest.raises(BuildError) as caught:
        kernel.check_rerun_declarations(STALE_MANIFEST, {"INIT_SCRIPT": "/bin/bench"})
    script = STALE_MANIFEST.parent / "build.rs"
    assert kernel.declared_variables(script) == set()  # its comment does not count
    assert f"{script} does not declare rerun-if-env-changed for INIT_SCRIPT" in caught.value.message
    assert caught.value.hint == (
        f'add to fn main() in {script}:\n    println!("cargo::rerun-if-env-changed=INIT_SCRIPT");'
    )


def test_only_the_missing_variables_are_named(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "k"\nversion = "0.0.0"\n')
    (tmp_path / "build.rs").write_text(
        'fn main() {\n    println!("cargo:rerun-if-env-changed=INIT_SCRIPT");\n}\n'
    )
    with pytest.raises(BuildError) as caught:
        kernel.check_rerun_declarations(
            tmp_path / "Cargo.toml", {"INIT_SCRIPT": "/bin/bench", "LOG": "trace"}
        )
    assert "for LOG:" in caught.value.message
    assert caught.value.hint is not None and "INIT_SCRIPT" not in caught.value.hint


def test_no_build_script_says_what_to_create(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "k"\nversion = "0.0.0"\n')
    with pytest.raises(BuildError) as caught:
        kernel.check_rerun_declarations(tmp_path / "Cargo.toml", {"INIT_SCRIPT": "/bin/x"})
    assert caught.value.hint == (
        f"create {tmp_path / 'build.rs'} with:\nfn main() {{\n"
        '    println!("cargo::rerun-if-env-changed=INIT_SCRIPT");\n}'
    )


def test_build_key_in_the_manifest_is_followed(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "k"\nversion = "0.0.0"\nbuild = "tools/build.rs"\n'
    )
    assert kernel.build_script(tmp_path / "Cargo.toml") == tmp_path / "tools" / "build.rs"
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "k"\nversion = "0.0.0"\nbuild = false\n'
    )
    assert kernel.build_script(tmp_path / "Cargo.toml") is None


def test_unchanged_image_after_a_changed_variable_is_stale(tmp_path: Path) -> None:
    script = STALE_MANIFEST.parent / "build.rs"
    previous = {"env": {"INIT_SCRIPT": "/bin/sh"}, "sha256": "aa"}
    with pytest.raises(BuildError) as caught:
        kernel.check_image_changed(
            tmp_path / "kernel.elf", previous=previous, env={"INIT_SCRIPT": "/bin/bench"},
            sha256="aa", script=script,
        )  # fmt: skip
    assert "INIT_SCRIPT ('/bin/sh' -> '/bin/bench')" in caught.value.message
    assert caught.value.hint is not None
    assert 'println!("cargo::rerun-if-env-changed=INIT_SCRIPT");' in caught.value.hint


def test_declared_but_still_stale_blames_the_build_command(tmp_path: Path) -> None:
    previous = {"env": {"INIT_SCRIPT": "/bin/sh"}, "sha256": "aa"}
    with pytest.raises(BuildError) as caught:
        kernel.check_image_changed(
            tmp_path / "kernel.elf", previous=previous, env={"INIT_SCRIPT": "/bin/bench"},
            sha256="aa", script=DEMO_MANIFEST.parent / "build.rs",
        )  # fmt: skip
    assert caught.value.hint is not None and "does not pass the variable on" in caught.value.hint


@pytest.mark.parametrize(
    ("previous", "sha"),
    [
        (None, "aa"),  # first build: nothing to compare with
        ({"env": {"INIT_SCRIPT": "/bin/sh"}, "sha256": "aa"}, "bb"),  # rebuilt
        ({"env": {"INIT_SCRIPT": "/bin/bench"}, "sha256": "aa"}, "aa"),  # same input, same image
    ],
)
def test_image_check_passes(previous: dict[str, object] | None, sha: str, tmp_path: Path) -> None:
    kernel.check_image_changed(
        tmp_path / "k", previous=previous, env={"INIT_SCRIPT": "/bin/bench"}, sha256=sha,
        script=None,
    )  # fmt: skip


def test_stamp_round_trip(tmp_path: Path, isolated_cache: Path) -> None:
    image = tmp_path / "kernel.elf"
    assert kernel.read_stamp(image) is None
    kernel.write_stamp(image, profile="fortress", env={"INIT_SCRIPT": "/x"}, sha256="cc")
    stamp = kernel.read_stamp(image)
    assert stamp is not None and stamp["env"] == {"INIT_SCRIPT": "/x"} and stamp["sha256"] == "cc"
    # The record lives beside the image (it travels with a cached target/), not in the cache.
    assert (tmp_path / "kernel.elf.ci_tools-build.json").is_file()
    assert not any(isolated_cache.rglob("*.json"))


def test_bench_arguments_go_into_the_build_env_where_it_asks() -> None:
    build = config.KernelBuild(cargo=True, env={"INIT_SCRIPT": "/bin/bench {bench_args}",
                                                "LOG": "warn"})  # fmt: skip
    baked = kernel.with_bench_args(build, "--quick --rounds 2 trap")
    assert baked.env == {"INIT_SCRIPT": "/bin/bench --quick --rounds 2 trap", "LOG": "warn"}
    assert kernel.with_bench_args(build, "").env["INIT_SCRIPT"] == "/bin/bench"
