"""The one cargo command builder, and toolchain detection (no cargo is run here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pytest

from ci_tools import cargo, config
from ci_tools.cargo import RustcProbe, Toolchain
from ci_tools.errors import SetupError

from conftest import FIXTURES, REPO

DEMO = config.load(REPO / "ci_tools.toml")
KERNEL = DEMO.kernel.manifest
VENDOR_ARGS = (
    "--config",
    'source.crates-io.replace-with="ci-tools-offline"',
    "--config",
    'source.ci-tools-offline.directory="/usr/lib/rustlib/src/rust/library/vendor"',
)


CURRENT_FLAGS = frozenset({"build-std", "json-target-spec"})  # what cargo 1.96 -Z help lists


def _sysroot(
    tmp_path: Path, *, rust_src: bool, targets: tuple[str, ...] = (), vendor: bool = False
) -> Path:
    root = tmp_path / f"sysroot-{rust_src}-{len(targets)}-{vendor}"
    if rust_src:
        (root / cargo.RUST_SRC / "core").mkdir(parents=True)
        (root / cargo.RUST_SRC / "core" / "Cargo.toml").write_text("")
    if vendor:
        (root / cargo.RUST_SRC / "vendor").mkdir(parents=True)
    for triple in targets:
        (root / "lib" / "rustlib" / triple / "lib").mkdir(parents=True)
    root.mkdir(exist_ok=True)
    return root


def _debian() -> Toolchain:
    return Toolchain(
        kind="debian",
        cargo="/usr/bin/cargo",
        bin_dir=Path("/usr/bin"),
        sysroot=Path("/usr"),
        version="rustc 1.96.0",
        env={"RUSTC": "/usr/bin/rustc", "RUSTC_BOOTSTRAP": "1"},
        config_args=VENDOR_ARGS,
        unstable_flags=CURRENT_FLAGS,
    )


def test_check_command_for_a_json_spec_profile() -> None:
    command = cargo.cargo_command("check", DEMO, DEMO.profile("fortress"), _debian())
    assert command.argv == (
        "/usr/bin/cargo", "check",
        "-Z", "build-std=core,alloc", "-Z", "json-target-spec",
        "--target", "arch/x64/x64-unwind.json", "--manifest-path", str(KERNEL),
        "--no-default-features", "--features", "profile-fortress",
        *VENDOR_ARGS, "--message-format=json",
    )  # fmt: skip
    assert command.cwd == REPO / "examples" / "kernel"
    assert command.env["RUSTC_BOOTSTRAP"] == "1"
    assert command.env["CARGO_ENCODED_RUSTFLAGS"] == "-C\x1foverflow-checks=on"
    assert "RUSTFLAGS='-C overflow-checks=on'" in str(command)


def test_clippy_gets_exactly_the_check_flags_plus_lints() -> None:
    toolchain = _debian()
    for profile in DEMO.profiles:
        check = cargo.cargo_command("check", DEMO, profile, toolchain)
        clippy = cargo.cargo_command("clippy", DEMO, profile, toolchain)
        assert clippy.argv[2:] == (*check.argv[2:], "--", "-D", "warnings")
        assert clippy.env == check.env and clippy.cwd == check.cwd


def test_clippy_warnings_allowed_when_the_config_says_so() -> None:
    lenient = dataclasses.replace(
        DEMO, clippy=config.ClippyConfig(profiles=("fortress",), deny_warnings=False)
    )
    command = cargo.cargo_command("clippy", lenient, DEMO.profile("fortress"), _debian())
    assert "--" not in command.argv and "warnings" not in command.argv
    pedantic = dataclasses.replace(
        DEMO, clippy=config.ClippyConfig(profiles=("fortress",), args=("-W", "clippy::pedantic"))
    )
    command = cargo.cargo_command("clippy", pedantic, DEMO.profile("fortress"), _debian())
    assert command.argv[-5:] == ("--", "-D", "warnings", "-W", "clippy::pedantic")


def test_kernel_build_uses_the_same_flags_and_its_environment() -> None:
    profile = DEMO.profile("ludicrous")
    check = cargo.cargo_command("check", DEMO, profile, _debian())
    build = cargo.cargo_command(
        "build", DEMO, profile, _debian(), release=True, env={"INIT_SCRIPT": "/bin/bench"}
    )
    assert build.argv[1] == "build"
    assert build.argv[2:-2] == check.argv[2:-1]
    assert build.argv[-2:] == ("--release", "--message-format=json")
    assert build.env["INIT_SCRIPT"] == "/bin/bench"
    assert "CARGO_ENCODED_RUSTFLAGS" not in build.env  # ludicrous has no extra rustflags


def test_installed_builtin_target_needs_no_build_std(tmp_path: Path) -> None:
    profile = config.Profile(name="host", target="x86_64-unknown-linux-gnu", features=())
    installed = dataclasses.replace(
        _debian(),
        sysroot=_sysroot(tmp_path, rust_src=False, targets=("x86_64-unknown-linux-gnu",)),
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
    command = cargo.fmt_command(DEMO, _debian())
    assert command.argv == (
        "/usr/bin/cargo", "fmt", "--check", "--manifest-path", str(KERNEL),
        "--", "--color", "never",
    )  # fmt: skip


# --------------------------------------------------------------------------
# detection


class FakeRustcs:
    """rustc answers per program path: (sysroot, version[, cargo's -Z flags]) or None
    (not installed); cargo knows today's flags unless the answer says otherwise."""

    def __init__(
        self, answers: Mapping[str, tuple[Path, str] | tuple[Path, str, frozenset[str]] | None]
    ) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, rustc: str, env: Mapping[str, str], cwd: Path) -> RustcProbe | None:
        self.calls.append((rustc, dict(env)))
        answer = self.answers.get(rustc)
        if answer is None:
            return None
        flags = answer[2] if len(answer) == 3 else CURRENT_FLAGS
        return RustcProbe(sysroot=answer[0], version=answer[1], unstable_flags=flags)


def _which_rustup(name: str) -> str | None:
    return "/home/u/.cargo/bin/rustup" if name == "rustup" else None


def _no_rustup(name: str) -> str | None:
    return None


NIGHTLY = "rustc 1.97.0-nightly (e50aa6fba 2026-05-19)"
RUSTUP_RUSTC = "/home/u/.cargo/bin/rustc"


def test_rustup_nightly_with_rust_src_comes_first(tmp_path: Path) -> None:
    probe = FakeRustcs(
        {RUSTUP_RUSTC: (_sysroot(tmp_path, rust_src=True), NIGHTLY), "/usr/bin/rustc": None}
    )
    toolchain = cargo.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert toolchain.kind == "rustup"
    assert toolchain.cargo == "/home/u/.cargo/bin/cargo"
    assert toolchain.env == {"RUSTUP_TOOLCHAIN": "nightly"}
    assert toolchain.config_args == ()
    # The probe must not let rustup download a toolchain.
    assert probe.calls[0][1]["RUSTUP_AUTO_INSTALL"] == "0"


def test_nightly_without_rust_src_falls_back_to_debian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    debian_root = _sysroot(tmp_path, rust_src=True, vendor=True)
    monkeypatch.setattr(cargo, "DEBIAN_BIN", _fake_debian_bin(tmp_path))
    debian_rustc = str(cargo.DEBIAN_BIN / "rustc")
    probe = FakeRustcs(
        {
            RUSTUP_RUSTC: (_sysroot(tmp_path, rust_src=False), NIGHTLY),
            debian_rustc: (debian_root, "rustc 1.96.0"),
        }
    )
    toolchain = cargo.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert toolchain.kind == "debian"
    assert toolchain.env["RUSTC_BOOTSTRAP"] == "1"
    assert toolchain.env["RUSTC"] == debian_rustc
    assert toolchain.env["PATH"].startswith(str(cargo.DEBIAN_BIN))
    # The demo kernel takes its own dependency from Debian's packaged crates: crates-io
    # points at one folder holding those and the standard library's vendored ones.
    assert toolchain.config_args[1] == 'source.crates-io.replace-with="ci-tools-offline"'
    assert toolchain.config_args[3].startswith(
        f'source.ci-tools-offline.directory="{isolated_cache / "cargo-sources"}'
    )


def _fake_debian_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "usr-bin"
    folder.mkdir(exist_ok=True)
    for program in ("rustc", "cargo"):
        (folder / program).write_text("")
    return folder


def test_stable_rustup_is_not_enough_for_build_std(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cargo, "DEBIAN_BIN", tmp_path / "nothing")
    probe = FakeRustcs({RUSTUP_RUSTC: (_sysroot(tmp_path, rust_src=True), "rustc 1.95.0")})
    with pytest.raises(SetupError) as caught:
        cargo.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert "not a nightly" in caught.value.message
    assert "Debian's rust-web is not installed" in caught.value.message


def test_neither_toolchain_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cargo, "DEBIAN_BIN", tmp_path / "nothing")
    with pytest.raises(SetupError) as caught:
        cargo.detect(DEMO.kernel, DEMO.profiles, probe=FakeRustcs({}), which=_no_rustup)
    assert caught.value.hint is not None
    assert cargo.RUSTUP_INSTALL in caught.value.hint
    assert cargo.DEBIAN_INSTALL in caught.value.hint


def test_debian_without_rust_src_names_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cargo, "DEBIAN_BIN", _fake_debian_bin(tmp_path))
    probe = FakeRustcs(
        {str(cargo.DEBIAN_BIN / "rustc"): (_sysroot(tmp_path, rust_src=False), "rustc 1.96.0")}
    )
    debian_only = dataclasses.replace(DEMO.kernel, toolchain="debian")
    with pytest.raises(SetupError) as caught:
        cargo.detect(debian_only, DEMO.profiles, probe=probe, which=_which_rustup)
    assert "has no rust-src" in caught.value.message
    assert "arch/x64/x64-unwind.json" in caught.value.message
    assert caught.value.hint is not None and "rust-web-src" in caught.value.hint
    assert cargo.RUSTUP_INSTALL not in caught.value.hint  # toolchain = "debian" only


def _flags(name: str) -> frozenset[str]:
    return cargo.parse_unstable_flags((FIXTURES / "cargo" / name).read_text())


def test_cargo_z_help_is_read_for_the_flags_it_knows() -> None:
    old, new = _flags("z-help-debian-1.85.txt"), _flags("z-help-debian-1.96.txt")
    assert {"build-std", "build-std-features", "unstable-options"} <= old
    assert "json-target-spec" not in old and "Run" not in old
    assert "json-target-spec" in new and "build-std" in new


def test_json_target_spec_only_for_a_cargo_that_knows_it() -> None:
    fortress = DEMO.profile("fortress")
    old_cargo = dataclasses.replace(_debian(), unstable_flags=_flags("z-help-debian-1.85.txt"))
    flags = cargo.profile_flags(DEMO, fortress, old_cargo)
    assert "json-target-spec" not in flags
    assert flags[:4] == ["-Z", "build-std=core,alloc", "--target", "arch/x64/x64-unwind.json"]
    new_cargo = dataclasses.replace(_debian(), unstable_flags=_flags("z-help-debian-1.96.txt"))
    assert cargo.profile_flags(DEMO, fortress, new_cargo)[2:4] == ["-Z", "json-target-spec"]
    unasked = dataclasses.replace(_debian(), unstable_flags=None)
    assert "json-target-spec" not in cargo.profile_flags(DEMO, fortress, unasked)


def test_debian_1_85_is_named_with_the_version_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian 12's own rust-web (1.85) has rust-src but no vendored dependencies:
    one message naming the version that works and how to get it, never
    'unknown -Z flag' from cargo."""
    monkeypatch.setattr(cargo, "DEBIAN_BIN", _fake_debian_bin(tmp_path))
    root = _sysroot(tmp_path, rust_src=True, vendor=False)
    old = "rustc 1.85.0 (4d91de4e4 2025-02-17) (built from a source tarball)"
    probe = FakeRustcs(
        {str(cargo.DEBIAN_BIN / "rustc"): (root, old, _flags("z-help-debian-1.85.txt"))}
    )
    debian_only = dataclasses.replace(DEMO.kernel, toolchain="debian")
    with pytest.raises(SetupError) as caught:
        cargo.detect(debian_only, DEMO.profiles, probe=probe, which=_no_rustup)
    message = caught.value.message
    assert "rustc 1.85.0" in message and "1.96" in message and "bookworm-security" in message
    assert str(root / cargo.RUST_SRC / "vendor") in message
    assert caught.value.hint is not None and caught.value.hint.count("apt-get update") == 1


def test_rust_toolchain_file_picks_the_rustup_toolchain(tmp_path: Path) -> None:
    (tmp_path / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "nightly-2026-05-01"\n')
    kernel = dataclasses.replace(DEMO.kernel, workdir=tmp_path)
    probe = FakeRustcs({RUSTUP_RUSTC: (_sysroot(tmp_path, rust_src=True), NIGHTLY)})
    toolchain = cargo.detect(kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert "RUSTUP_TOOLCHAIN" not in toolchain.env  # rustup reads the file itself
    named = dataclasses.replace(kernel, rustup_toolchain="nightly-2026-04-01")
    toolchain = cargo.detect(named, DEMO.profiles, probe=probe, which=_which_rustup)
    assert toolchain.env == {"RUSTUP_TOOLCHAIN": "nightly-2026-04-01"}


def test_resolve_installs_debian_rust_when_detection_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    answers = iter([SetupError("none"), _debian()])

    def fake_detect(kernel: config.KernelCrate, profiles: object) -> Toolchain:
        answer = next(answers)
        if isinstance(answer, SetupError):
            raise answer
        return answer

    from ci_tools import setup

    monkeypatch.setattr(cargo, "detect", fake_detect)
    monkeypatch.setattr(setup, "ensure_rust", lambda: calls.append("ensure_rust"))
    assert cargo.resolve(DEMO).kind == "debian"
    assert calls == ["ensure_rust"]


def test_resolve_reports_detection_problem_when_install_impossible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ci_tools import setup

    def fake_detect(kernel: config.KernelCrate, profiles: object) -> Toolchain:
        raise SetupError("no usable Rust toolchain", hint="install one")

    def cannot_install() -> None:
        raise SetupError("not root")

    monkeypatch.setattr(cargo, "detect", fake_detect)
    monkeypatch.setattr(setup, "ensure_rust", cannot_install)
    with pytest.raises(SetupError, match="no usable Rust toolchain"):
        cargo.resolve(DEMO)


def test_missing_clippy_names_the_component(tmp_path: Path) -> None:
    toolchain = dataclasses.replace(_debian(), bin_dir=tmp_path)
    with pytest.raises(SetupError) as caught:
        cargo.require_component(toolchain, "cargo-clippy", "clippy")
    assert caught.value.hint == "apt-get install rust-web-clippy"
    rustup = dataclasses.replace(
        _debian(), kind="rustup", sysroot=tmp_path, env={"RUSTUP_TOOLCHAIN": "nightly"}
    )
    with pytest.raises(SetupError) as caught:
        cargo.require_component(rustup, "cargo-fmt", "rustfmt")
    assert caught.value.hint == "rustup component add rustfmt --toolchain nightly"
