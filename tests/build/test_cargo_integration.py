"""Real cargo on the demo kernel crate: check, clippy, fmt, kernel builds.

All tests share one CARGO_TARGET_DIR, so core and alloc are built once per
target spec (about half a minute each) and then reused.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_tools import config
from ci_tools.build import checks, kernel, toolchain
from ci_tools.errors import BuildError, SetupError
from ci_tools.util import paths

from conftest import FIXTURES, REPO

pytestmark = pytest.mark.integration

DEMO_CONFIG = REPO / "ci_tools.toml"
DEMO_CRATE = REPO / "examples" / "kernel"


@pytest.fixture(scope="session")
def cargo_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cargo-target")


@pytest.fixture(autouse=True)
def shared_target(cargo_target: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CARGO_TARGET_DIR", str(cargo_target))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    yield


@pytest.fixture
def workspace(github: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GitHub Actions step (conftest's ``github``) whose workspace is the test folder."""
    monkeypatch.setenv("GITHUB_WORKSPACE", str(github.parent))
    return github


def _demo_copy(tmp_path: Path, *, extra_config: str = "") -> config.Config:
    """The demo crate and its config, copied to tmp_path/kernel and tmp_path/ci_tools.toml."""
    shutil.copytree(DEMO_CRATE, tmp_path / "kernel", ignore=shutil.ignore_patterns("target"))
    text = DEMO_CONFIG.read_text().replace('crate = "examples/kernel"', 'crate = "kernel"')
    (tmp_path / "ci_tools.toml").write_text(text + extra_config)
    return config.load(tmp_path / "ci_tools.toml")


def _append(path: Path, code: str) -> int:
    """Append code; return the line number of its first line."""
    before = path.read_text()
    path.write_text(before + code)
    return before.count("\n") + 1


def test_detected_toolchain_can_build_core() -> None:
    demo = config.load(DEMO_CONFIG)
    found = toolchain.resolve(demo)
    assert found.has_rust_src
    assert found.kind == "rustup" or found.env["RUSTC_BOOTSTRAP"] == "1"


def _metadata(cargo: str, crate: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [cargo, "metadata", "--offline", "--format-version", "1",
         "--manifest-path", str(crate / "Cargo.toml")],
        cwd=crate, env={**os.environ, **env}, capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_rustup_path_takes_the_kernel_dependency_from_the_kernel_own_source_config(
    tmp_path: Path,
) -> None:
    """On the rustup path ci_tools adds no source flags of its own: the kernel's
    ``.cargo/config.toml`` (crates-io replaced by Debian's packaged crates) is what
    resolves static_assertions, with an empty CARGO_HOME and no network."""
    demo = config.load(DEMO_CONFIG)
    rustup_only = dataclasses.replace(demo.kernel, toolchain="rustup")
    try:
        found = toolchain.detect(rustup_only, [])
        assert found.kind == "rustup"
        assert found.config_args == ()  # nothing of ours between cargo and the kernel's config
    except SetupError:
        # No rustup here (a fresh CI root): the cargo there is, given no flags of ours,
        # as the rustup path gives none.
        found = dataclasses.replace(toolchain.resolve(demo), config_args=())
    shutil.copytree(DEMO_CRATE, tmp_path / "kernel", ignore=shutil.ignore_patterns("target"))
    env = {**found.env, **demo.kernel.env, "CARGO_HOME": str(tmp_path / "cargo-home"),
           "CARGO_TARGET_DIR": str(tmp_path / "target")}  # fmt: skip
    done = _metadata(found.cargo, tmp_path / "kernel", env)
    assert done.returncode == 0, done.stderr
    packages = {p["name"]: p for p in json.loads(done.stdout)["packages"]}
    assert packages["static_assertions"]["manifest_path"].startswith("/usr/share/cargo/registry/")
    # Without the kernel's source configuration the same offline resolution fails,
    # so it was that configuration, not a cache of ours, that supplied the crate.
    (tmp_path / "kernel" / ".cargo" / "config.toml").unlink()
    assert _metadata(found.cargo, tmp_path / "kernel", env).returncode != 0


@pytest.mark.parametrize("profile", ["fortress", "ludicrous"])  # one per target spec
def test_check_passes_on_the_demo_crate(profile: str) -> None:
    checks.check(config.load(DEMO_CONFIG), profile)


def test_clippy_passes_with_each_profiles_flags(capsys: pytest.CaptureFixture[str]) -> None:
    checks.clippy(config.load(DEMO_CONFIG), ["fortress", "ludicrous"])
    err = capsys.readouterr().err
    assert "--target arch/x64/x64-unwind.json" in err and "--target arch/x64/x64.json" in err
    assert err.count("-- -D warnings") == 2


def test_fmt_passes_on_the_demo_crate() -> None:
    checks.fmt(config.load(DEMO_CONFIG))


def test_breaking_one_profile_fails_exactly_that_profile(
    tmp_path: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _demo_copy(tmp_path)
    line = _append(
        tmp_path / "kernel" / "src" / "main.rs",
        '\n#[cfg(feature = "profile-ludicrous")]\npub fn fast_path() -> u32 {\n    "fast"\n}\n',
    )
    checks.check(demo, "fortress")
    capsys.readouterr()
    with pytest.raises(BuildError, match=r"cargo check \(ludicrous\) failed: 1 error"):
        checks.check(demo, "ludicrous")
    err = capsys.readouterr().err
    assert f"::error file=kernel/src/main.rs,line={line + 3},col=5," in err
    assert "error[E0308]: mismatched types" in err
    assert f"`kernel/src/main.rs:{line + 3}:5`" in workspace.read_text()


def test_error_in_a_terminal_is_printed_as_cargo_renders_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _demo_copy(tmp_path)
    line = _append(
        tmp_path / "kernel" / "src" / "main.rs", "\npub fn broken() -> u32 {\n    x\n}\n"
    )
    with pytest.raises(BuildError):
        checks.check(demo, "fortress")
    err = capsys.readouterr().err
    assert f"  --> src/main.rs:{line + 2}:5" in err
    assert "::error" not in err


def test_clippy_warning_fails_clippy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = _demo_copy(tmp_path)
    _append(
        tmp_path / "kernel" / "src" / "main.rs",
        "\n/// Length.\npub fn count(v: &alloc::vec::Vec<u32>) -> usize {\n    v.len()\n}\n",
    )
    checks.check(demo, "ludicrous")  # a lint is no compile error
    with pytest.raises(BuildError, match="clippy failed for profile"):
        checks.clippy(demo, ["ludicrous"])
    assert "clippy::ptr_arg" in capsys.readouterr().err


def test_clippy_reports_every_crate_of_a_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A kernel crate on two workspace crates, each with a clippy error.  One job at a
    time, so without --keep-going cargo stops after the first crate and the second
    one's finding is never shown."""
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "kernel"\nversion = "0.1.0"\nedition = "2021"\n'
        '[features]\nstrict = []\n[dependencies]\nfirst = { path = "first" }\n'
        'second = { path = "second" }\n[workspace]\nmembers = ["first", "second"]\n'
    )
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lib.rs").write_text("//! The kernel.\n")
    for name in ("first", "second"):
        (tmp_path / name / "src").mkdir(parents=True)
        (tmp_path / name / "Cargo.toml").write_text(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n'
        )
        (tmp_path / name / "src" / "lib.rs").write_text(
            "/// Length.\npub fn count(v: &Vec<u32>) -> usize {\n    v.len()\n}\n"
        )
    (tmp_path / "ci_tools.toml").write_text(
        '[kernel]\ncrate = "."\n[profiles.native]\ntarget = "x86_64-unknown-linux-gnu"\n'
        'features = ["strict"]\n'
    )
    monkeypatch.setenv("CARGO_BUILD_JOBS", "1")
    with pytest.raises(BuildError, match=r"cargo clippy \(native\) failed: 2 errors"):
        checks.clippy(config.load(tmp_path / "ci_tools.toml"))
    err = capsys.readouterr().err
    assert "--keep-going" in err
    assert "could not compile `first`" in err and "could not compile `second`" in err


def test_formatting_violation_fails_fmt(
    tmp_path: Path, workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = _demo_copy(tmp_path)
    _append(tmp_path / "kernel" / "src" / "main.rs", "\npub fn  ugly( x:u32)->u32{x+1}\n")
    with pytest.raises(BuildError, match=r"1 file\(s\) not formatted as rustfmt would"):
        checks.fmt(demo)
    err = capsys.readouterr().err
    assert "::error file=kernel/src/main.rs," in err
    assert "+pub fn ugly(x: u32) -> u32 {" in err
    assert "**`kernel/src/main.rs`**" in workspace.read_text()


KERNEL_BENCH = """
[profiles.ludicrous.bench]
guest = "kernel"
build = { cargo = true, env = { INIT_SCRIPT = "/bin/bench" } }
"""


def test_kernel_build_passes_init_script_and_rebuilds(tmp_path: Path, isolated_cache: Path) -> None:
    text = (DEMO_CONFIG.read_text() + KERNEL_BENCH).replace(
        'bench.cmdline_extra = "mitigations=off"\n', ""
    )
    (tmp_path / "ci_tools.toml").write_text(
        text.replace('crate = "examples/kernel"', f'crate = "{DEMO_CRATE}"')
    )
    demo = config.load(tmp_path / "ci_tools.toml")
    image = kernel.build_image(demo, demo.profile("ludicrous"))
    assert b"/bin/bench" in image.read_bytes()
    first = paths.sha256_file(image)
    other = tmp_path / "other.toml"
    other.write_text(
        (tmp_path / "ci_tools.toml").read_text().replace('"/bin/bench"', '"/bin/bench --full"')
    )
    demo = config.load(other)
    image = kernel.build_image(demo, demo.profile("ludicrous"))
    assert b"/bin/bench --full" in image.read_bytes()
    assert paths.sha256_file(image) != first


def test_stale_kernel_is_refused(
    tmp_path: Path, isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build script without rerun-if-env-changed: the static check names the line; with
    that check out of the way, the image-changed check still catches the stale kernel."""
    crate = tmp_path / "stale"
    shutil.copytree(FIXTURES / "kernel-stale", crate)
    shutil.copytree(DEMO_CRATE / "arch", crate / "arch")
    body = (
        f'[kernel]\ncrate = "{crate}"\n[profiles.fortress]\ntarget = "arch/x64/x64.json"\n'
        'features = ["profile-fortress"]\n[profiles.fortress.bench]\nguest = "kernel"\n'
        'build = { cargo = true, env = { INIT_SCRIPT = "/bin/sh" } }\n'
    )
    (tmp_path / "a.toml").write_text(body)
    (tmp_path / "b.toml").write_text(body.replace('"/bin/sh"', '"/bin/bench"'))
    first, second = config.load(tmp_path / "a.toml"), config.load(tmp_path / "b.toml")
    with pytest.raises(BuildError) as caught:
        kernel.build_image(first, first.profile("fortress"))
    assert caught.value.hint is not None
    assert 'println!("cargo::rerun-if-env-changed=INIT_SCRIPT");' in caught.value.hint

    monkeypatch.setattr(kernel, "check_rerun_declarations", lambda *a: None)
    kernel.build_image(first, first.profile("fortress"))
    with pytest.raises(BuildError, match="the build reused a stale kernel") as caught:
        kernel.build_image(second, second.profile("fortress"))
    assert caught.value.hint is not None
    assert f"add to fn main() in {crate / 'build.rs'}" in caught.value.hint
