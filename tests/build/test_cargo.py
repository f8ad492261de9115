"""The one cargo command builder (no cargo is run here)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ci_tools import config
from ci_tools.build import cargo

from conftest import REPO, VENDOR_ARGS, Child, debian_toolchain, fake_sysroot

DEMO = config.load(REPO / "ci_tools.toml")
KERNEL = DEMO.kernel.manifest


def test_check_command_for_a_json_spec_profile() -> None:
    command = cargo.cargo_command("check", DEMO, DEMO.profile("fortress"), debian_toolchain())
    assert command.argv == (
        "/usr/bin/cargo", "check",
        "-Z", "build-std=core,alloc", "-Z", "json-target-spec",
        "--target", "arch/x64/x64-unwind.json", "--manifest-path", str(KERNEL),
        "--no-default-features", "--features", "profile-fortress",
        *VENDOR_ARGS, "--keep-going", "--message-format=json",
    )  # fmt: skip
    assert command.cwd == REPO / "examples" / "kernel"
    assert command.env["RUSTC_BOOTSTRAP"] == "1"
    assert command.env["CARGO_ENCODED_RUSTFLAGS"] == "-C\x1foverflow-checks=on"
    assert "RUSTFLAGS='-C overflow-checks=on'" in str(command)


def test_clippy_gets_exactly_the_check_flags_plus_lints() -> None:
    toolchain = debian_toolchain()
    for profile in DEMO.profiles:
        check = cargo.cargo_command("check", DEMO, profile, toolchain)
        clippy = cargo.cargo_command("clippy", DEMO, profile, toolchain)
        assert clippy.argv[2:] == (*check.argv[2:], "--", "-D", "warnings")
        assert clippy.env == check.env and clippy.cwd == check.cwd


def test_check_and_clippy_keep_going_past_a_failed_crate() -> None:
    """A workspace crate that fails must not hide the findings of the others."""
    profile = DEMO.profile("balanced")
    for subcommand in ("check", "clippy"):
        argv = cargo.cargo_command(subcommand, DEMO, profile, debian_toolchain()).argv
        assert argv.count("--keep-going") == 1
        assert argv.index("--keep-going") < argv.index("--message-format=json")
        if "--" in argv:  # a cargo flag, not one for clippy-driver
            assert argv.index("--keep-going") < argv.index("--")


def test_clippy_warnings_allowed_when_the_config_says_so() -> None:
    lenient = dataclasses.replace(
        DEMO, clippy=config.ClippyConfig(profiles=("fortress",), deny_warnings=False)
    )
    command = cargo.cargo_command("clippy", lenient, DEMO.profile("fortress"), debian_toolchain())
    assert "--" not in command.argv and "warnings" not in command.argv
    pedantic = dataclasses.replace(
        DEMO, clippy=config.ClippyConfig(profiles=("fortress",), args=("-W", "clippy::pedantic"))
    )
    command = cargo.cargo_command("clippy", pedantic, DEMO.profile("fortress"), debian_toolchain())
    assert command.argv[-5:] == ("--", "-D", "warnings", "-W", "clippy::pedantic")


def test_kernel_build_uses_the_same_flags_and_its_environment() -> None:
    profile = DEMO.profile("ludicrous")
    check = cargo.cargo_command("check", DEMO, profile, debian_toolchain())
    build = cargo.cargo_command(
        "build", DEMO, profile, debian_toolchain(), release=True, env={"INIT_SCRIPT": "/bin/bench"}
    )
    assert build.argv[1] == "build"
    assert build.argv[2:-2] == check.argv[2:-2]  # the profile's flags
    assert check.argv[-2] == "--keep-going" and "--keep-going" not in build.argv
    assert build.argv[-2:] == ("--release", "--message-format=json")
    assert build.env["INIT_SCRIPT"] == "/bin/bench"
    assert "CARGO_ENCODED_RUSTFLAGS" not in build.env  # ludicrous has no extra rustflags


def test_installed_builtin_target_needs_no_build_std(tmp_path: Path) -> None:
    profile = config.Profile(name="host", target="x86_64-unknown-linux-gnu", features=())
    installed = dataclasses.replace(
        debian_toolchain(),
        sysroot=fake_sysroot(tmp_path, rust_src=False, targets=("x86_64-unknown-linux-gnu",)),
        config_args=(),
    )
    flags = cargo.profile_flags(DEMO, profile, installed)
    assert flags == [
        "--target", "x86_64-unknown-linux-gnu", "--manifest-path", str(KERNEL),
        "--no-default-features",
    ]  # fmt: skip
    bare = config.Profile(name="bare", target="x86_64-unknown-none", features=())
    assert cargo.profile_flags(DEMO, bare, installed)[:2] == ["-Z", "build-std=core,alloc"]


def test_fmt_command() -> None:
    command = cargo.fmt_command(DEMO, debian_toolchain())
    assert command.argv == (
        "/usr/bin/cargo", "fmt", "--check", "--manifest-path", str(KERNEL),
        "--", "--color", "never",
    )  # fmt: skip


def test_the_kernels_env_reaches_every_cargo_command() -> None:
    """Kevlar's `make check` sets INITRAMFS_PATH; its cargo sessions need it too."""
    kernel = dataclasses.replace(DEMO.kernel, env={"INITRAMFS_PATH": "build/initramfs.cpio"})
    demo = dataclasses.replace(DEMO, kernel=kernel)
    fortress = demo.profile("fortress")
    for sub in ("check", "clippy", "build"):
        command = cargo.cargo_command(sub, demo, fortress, debian_toolchain())
        assert command.env["INITRAMFS_PATH"] == "build/initramfs.cpio"
    assert cargo.fmt_command(demo, debian_toolchain()).env["INITRAMFS_PATH"] == (
        "build/initramfs.cpio"
    )


def test_fmt_fix_command_has_the_configured_args_and_no_check() -> None:
    everything = dataclasses.replace(DEMO, fmt=config.FmtConfig(args=("--all",)))
    check = cargo.fmt_command(everything, debian_toolchain())
    assert check.argv == (
        "/usr/bin/cargo", "fmt", "--check", "--manifest-path", str(KERNEL), "--all",
        "--", "--color", "never",
    )  # fmt: skip
    fix = cargo.fmt_command(everything, debian_toolchain(), check=False)
    assert fix.argv == ("/usr/bin/cargo", "fmt", "--manifest-path", str(KERNEL), "--all")
    assert fix.cwd == check.cwd and fix.env == check.env


def test_fmt_args_with_their_own_separator() -> None:
    edition = dataclasses.replace(
        DEMO, fmt=config.FmtConfig(args=("--all", "--", "--edition", "2021"))
    )
    argv = cargo.fmt_command(edition, debian_toolchain()).argv
    assert argv[-6:] == ("--all", "--", "--edition", "2021", "--color", "never")


def test_a_build_folder_another_cargo_holds_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two cargo processes on one target folder are safe (cargo flocks the build folder
    and the second waits); ci_tools says so instead of seeming to hang."""
    monkeypatch.delenv("CARGO_TARGET_DIR", raising=False)
    command = cargo.CargoCommand(argv=("cargo", "build"), cwd=tmp_path)
    build = tmp_path / "target" / "x64" / "debug"
    build.mkdir(parents=True)
    (build / ".cargo-lock").touch()
    assert cargo.busy_build_dir(command) is None
    holder = Child(
        "import fcntl, os\n"
        f"fd = os.open({str(build / '.cargo-lock')!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)  # as cargo does\nprint('ready', flush=True)\n"
    )
    try:
        assert cargo.busy_build_dir(command) == build
    finally:
        holder.finish()
    assert cargo.busy_build_dir(command) is None
