"""Toolchain detection, and installing Debian's when there is none (nothing is run here)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

import pytest

from ci_tools import config
from ci_tools.build import cargo, toolchain
from ci_tools.build.toolchain import RustcProbe, Toolchain
from ci_tools.errors import SetupError

from conftest import CURRENT_FLAGS, FIXTURES, REPO, debian_toolchain, fake_sysroot

DEMO = config.load(REPO / "ci_tools.toml")


@pytest.fixture(autouse=True)
def no_rustup_toolchain_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """CI's jobs set RUSTUP_TOOLCHAIN to their pinned nightly; these tests say their own."""
    monkeypatch.delenv("RUSTUP_TOOLCHAIN", raising=False)


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
        {RUSTUP_RUSTC: (fake_sysroot(tmp_path, rust_src=True), NIGHTLY), "/usr/bin/rustc": None}
    )
    found = toolchain.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.kind == "rustup"
    assert found.cargo == "/home/u/.cargo/bin/cargo"
    assert found.env == {"RUSTUP_TOOLCHAIN": "nightly"}
    assert found.config_args == ()
    # The probe must not let rustup download a toolchain.
    assert probe.calls[0][1]["RUSTUP_AUTO_INSTALL"] == "0"


def test_nightly_without_rust_src_falls_back_to_debian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    debian_root = fake_sysroot(tmp_path, rust_src=True, vendor=True)
    monkeypatch.setattr(toolchain, "DEBIAN_BIN", _fake_debian_bin(tmp_path))
    debian_rustc = str(toolchain.DEBIAN_BIN / "rustc")
    probe = FakeRustcs(
        {
            RUSTUP_RUSTC: (fake_sysroot(tmp_path, rust_src=False), NIGHTLY),
            debian_rustc: (debian_root, "rustc 1.96.0"),
        }
    )
    found = toolchain.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.kind == "debian"
    assert found.env["RUSTC_BOOTSTRAP"] == "1"
    assert found.env["RUSTC"] == debian_rustc
    assert found.env["PATH"].startswith(str(toolchain.DEBIAN_BIN))
    # The demo kernel takes its own dependency from Debian's packaged crates: crates-io
    # points at one folder holding those and the standard library's vendored ones.
    assert found.config_args[1] == 'source.crates-io.replace-with="ci-tools-offline"'
    assert found.config_args[3].startswith(
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
    monkeypatch.setattr(toolchain, "DEBIAN_BIN", tmp_path / "nothing")
    monkeypatch.delenv("RUSTC_BOOTSTRAP", raising=False)
    probe = FakeRustcs({RUSTUP_RUSTC: (fake_sysroot(tmp_path, rust_src=True), "rustc 1.95.0")})
    with pytest.raises(SetupError) as caught:
        toolchain.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert "not a nightly" in caught.value.message
    assert "Debian's rust-web is not installed" in caught.value.message


def test_neither_toolchain_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toolchain, "DEBIAN_BIN", tmp_path / "nothing")
    with pytest.raises(SetupError) as caught:
        toolchain.detect(DEMO.kernel, DEMO.profiles, probe=FakeRustcs({}), which=_no_rustup)
    assert caught.value.hint is not None
    assert toolchain.RUSTUP_INSTALL in caught.value.hint
    assert toolchain.DEBIAN_INSTALL in caught.value.hint


def test_debian_without_rust_src_names_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(toolchain, "DEBIAN_BIN", _fake_debian_bin(tmp_path))
    probe = FakeRustcs(
        {
            str(toolchain.DEBIAN_BIN / "rustc"): (
                fake_sysroot(tmp_path, rust_src=False),
                "rustc 1.96.0",
            )
        }
    )
    debian_only = dataclasses.replace(DEMO.kernel, toolchain="debian")
    with pytest.raises(SetupError) as caught:
        toolchain.detect(debian_only, DEMO.profiles, probe=probe, which=_which_rustup)
    assert "has no rust-src" in caught.value.message
    assert "arch/x64/x64-unwind.json" in caught.value.message
    assert caught.value.hint is not None and "rust-web-src" in caught.value.hint
    assert toolchain.RUSTUP_INSTALL not in caught.value.hint  # toolchain = "debian" only


def _flags(name: str) -> frozenset[str]:
    return toolchain.parse_unstable_flags((FIXTURES / "cargo" / name).read_text())


def test_cargo_z_help_is_read_for_the_flags_it_knows() -> None:
    old, new = _flags("z-help-debian-1.85.txt"), _flags("z-help-debian-1.96.txt")
    assert {"build-std", "build-std-features", "unstable-options"} <= old
    assert "json-target-spec" not in old and "Run" not in old
    assert "json-target-spec" in new and "build-std" in new


def test_json_target_spec_only_for_a_cargo_that_knows_it() -> None:
    fortress = DEMO.profile("fortress")
    old_cargo = dataclasses.replace(
        debian_toolchain(), unstable_flags=_flags("z-help-debian-1.85.txt")
    )
    flags = cargo.profile_flags(DEMO, fortress, old_cargo)
    assert "json-target-spec" not in flags
    assert flags[:4] == ["-Z", "build-std=core,alloc", "--target", "arch/x64/x64-unwind.json"]
    new_cargo = dataclasses.replace(
        debian_toolchain(), unstable_flags=_flags("z-help-debian-1.96.txt")
    )
    assert cargo.profile_flags(DEMO, fortress, new_cargo)[2:4] == ["-Z", "json-target-spec"]
    unasked = dataclasses.replace(debian_toolchain(), unstable_flags=None)
    assert "json-target-spec" not in cargo.profile_flags(DEMO, fortress, unasked)


def test_debian_1_85_is_named_with_the_version_needed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debian 12's own rust-web (1.85) has rust-src but no vendored dependencies:
    one message naming the version that works and how to get it, never
    'unknown -Z flag' from cargo."""
    monkeypatch.setattr(toolchain, "DEBIAN_BIN", _fake_debian_bin(tmp_path))
    root = fake_sysroot(tmp_path, rust_src=True, vendor=False)
    old = "rustc 1.85.0 (4d91de4e4 2025-02-17) (built from a source tarball)"
    probe = FakeRustcs(
        {str(toolchain.DEBIAN_BIN / "rustc"): (root, old, _flags("z-help-debian-1.85.txt"))}
    )
    debian_only = dataclasses.replace(DEMO.kernel, toolchain="debian")
    with pytest.raises(SetupError) as caught:
        toolchain.detect(debian_only, DEMO.profiles, probe=probe, which=_no_rustup)
    message = caught.value.message
    assert "rustc 1.85.0" in message and "1.96" in message and "bookworm-security" in message
    assert str(root / toolchain.RUST_SRC / "vendor") in message
    assert caught.value.hint is not None and caught.value.hint.count("apt-get update") == 1


def test_rust_toolchain_file_picks_the_rustup_toolchain(tmp_path: Path) -> None:
    (tmp_path / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "nightly-2026-05-01"\n')
    kernel = dataclasses.replace(DEMO.kernel, workdir=tmp_path)
    probe = FakeRustcs({RUSTUP_RUSTC: (fake_sysroot(tmp_path, rust_src=True), NIGHTLY)})
    found = toolchain.detect(kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert "RUSTUP_TOOLCHAIN" not in found.env  # rustup reads the file itself
    named = dataclasses.replace(kernel, rustup_toolchain="nightly-2026-04-01")
    found = toolchain.detect(named, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.env == {"RUSTUP_TOOLCHAIN": "nightly-2026-04-01"}


def test_resolve_installs_debian_rust_when_detection_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    answers = iter([SetupError("none"), debian_toolchain()])

    def fake_detect(kernel: config.KernelCrate, profiles: object) -> Toolchain:
        answer = next(answers)
        if isinstance(answer, SetupError):
            raise answer
        return answer

    monkeypatch.setattr(toolchain, "detect", fake_detect)
    monkeypatch.setattr(toolchain, "ensure_debian_rust", lambda: calls.append("ensure_rust"))
    assert toolchain.resolve(DEMO).kind == "debian"
    assert calls == ["ensure_rust"]


def test_resolve_reports_detection_problem_when_install_impossible(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fake_detect(kernel: config.KernelCrate, profiles: object) -> Toolchain:
        raise SetupError("no usable Rust toolchain", hint="install one")

    def cannot_install() -> None:
        raise SetupError("not root")

    monkeypatch.setattr(toolchain, "detect", fake_detect)
    monkeypatch.setattr(toolchain, "ensure_debian_rust", cannot_install)
    with pytest.raises(SetupError, match="no usable Rust toolchain"):
        toolchain.resolve(DEMO)


def test_missing_clippy_names_the_component(tmp_path: Path) -> None:
    debian = dataclasses.replace(debian_toolchain(), bin_dir=tmp_path)
    with pytest.raises(SetupError) as caught:
        toolchain.require_component(debian, "cargo-clippy", "clippy")
    assert caught.value.hint == "apt-get install rust-web-clippy"
    rustup = dataclasses.replace(
        debian_toolchain(), kind="rustup", sysroot=tmp_path, env={"RUSTUP_TOOLCHAIN": "nightly"}
    )
    with pytest.raises(SetupError) as caught:
        toolchain.require_component(rustup, "cargo-fmt", "rustfmt")
    assert caught.value.hint == "rustup component add rustfmt --toolchain nightly"


@pytest.mark.integration  # runs programs named rustc and cargo (stand-ins), past the tripwire
def test_probe_survives_a_cargo_that_is_missing_or_hangs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rustc = tmp_path / "rustc"
    rustc.write_text(
        '#!/bin/sh\ncase "$1" in --print) echo /opt/rust ;; -V) echo "rustc 1.96.0" ;; esac\n'
    )
    rustc.chmod(0o755)
    toolchain._cargo_unstable_flags.cache_clear()
    alone = toolchain.probe_rustc(str(rustc), {}, tmp_path)
    assert alone is not None and alone.version == "rustc 1.96.0"
    assert alone.unstable_flags is None  # no cargo beside it: not asked, no traceback
    cargo_bin = tmp_path / "cargo"
    cargo_bin.write_text("#!/bin/sh\nexec sleep 30\n")
    cargo_bin.chmod(0o755)
    monkeypatch.setattr(toolchain, "PROBE_TIMEOUT", 0.5)
    toolchain._cargo_unstable_flags.cache_clear()
    hung = toolchain.probe_rustc(str(rustc), {}, tmp_path)
    assert hung is not None and hung.unstable_flags is None
    toolchain._cargo_unstable_flags.cache_clear()


def test_cargo_in_a_place_of_its_own_is_used_even_when_stable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache: Path
) -> None:
    """$CARGO=/opt/rust/bin/cargo: that toolchain, with its own rustc, unlocked for -Z."""
    bin_dir = tmp_path / "opt-rust" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "cargo").write_text("")
    monkeypatch.setenv("CARGO", str(bin_dir / "cargo"))
    monkeypatch.delenv("RUSTC", raising=False)
    root = fake_sysroot(tmp_path, rust_src=True)
    probe = FakeRustcs({str(bin_dir / "rustc"): (root, "rustc 1.95.0 (stable)")})
    found = toolchain.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.kind == "custom" and found.cargo == str(bin_dir / "cargo")
    assert found.env["RUSTC"] == str(bin_dir / "rustc") and found.env["RUSTC_BOOTSTRAP"] == "1"
    assert found.config_args == ()  # no vendored sources beside it: cargo resolves as usual
    assert "$CARGO=" in found.describe()


def test_cargo_that_names_no_place_is_not_a_custom_toolchain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kevlar's Makefile exports CARGO ?= cargo; rustup's proxy is rustup's toolchain."""
    monkeypatch.setenv("CARGO", "cargo")
    assert toolchain.custom_cargo(_which_rustup) is None
    monkeypatch.setenv("CARGO", "/home/u/.cargo/bin/cargo")
    assert toolchain.custom_cargo(_which_rustup) is None
    monkeypatch.setenv("CARGO", str(tmp_path / "missing" / "cargo"))
    with pytest.raises(SetupError, match=r"\$CARGO \(.*missing/cargo\) does not exist"):
        toolchain.detect(DEMO.kernel, DEMO.profiles, probe=FakeRustcs({}), which=_which_rustup)


def test_stable_rustup_with_rustc_bootstrap_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CARGO", raising=False)
    monkeypatch.setenv("RUSTC_BOOTSTRAP", "1")
    probe = FakeRustcs({RUSTUP_RUSTC: (fake_sysroot(tmp_path, rust_src=True), "rustc 1.95.0")})
    found = toolchain.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.kind == "rustup" and found.version == "rustc 1.95.0"


def test_a_toolchain_named_by_the_environment_is_used_when_the_config_pins_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CI installs a dated nightly and names it in RUSTUP_TOOLCHAIN (rustup's own variable)."""
    monkeypatch.setenv("RUSTUP_TOOLCHAIN", "nightly-2026-11-15")
    probe = FakeRustcs({RUSTUP_RUSTC: (fake_sysroot(tmp_path, rust_src=True), NIGHTLY)})
    found = toolchain.detect(DEMO.kernel, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.env == {"RUSTUP_TOOLCHAIN": "nightly-2026-11-15"}
    assert probe.calls[0][1]["RUSTUP_TOOLCHAIN"] == "nightly-2026-11-15"
    pinned = dataclasses.replace(DEMO.kernel, rustup_toolchain="nightly-2026-04-01")
    found = toolchain.detect(pinned, DEMO.profiles, probe=probe, which=_which_rustup)
    assert found.env == {"RUSTUP_TOOLCHAIN": "nightly-2026-04-01"}  # the config's pin wins
