"""The one cargo command builder, and the one way cargo is run.

``cargo check``, ``cargo clippy`` and the kernel's ``cargo build`` all get
their flags from ``profile_flags``, so a lint can never look at another
build than the check (Kevlar's ``make lint`` ran clippy without the target
spec, build-std or the profile's features):

    cargo <sub> [-Z build-std=core,alloc] [-Z json-target-spec] --target <spec>
          --manifest-path <crate>/Cargo.toml --no-default-features
          --features <profile features> [--keep-going] --message-format=json

check and clippy pass ``--keep-going`` (stable since cargo 1.74): one crate
of a workspace that fails does not hide the findings of the others.

``run`` runs such a command and shows what the compiler found
(``build.diagnostics``); the lint commands (``build.checks``) and the kernel
build (``build.kernel``) both go through it.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ci_tools import output
from ci_tools.build import diagnostics
from ci_tools.build.diagnostics import CargoRun
from ci_tools.build.toolchain import Toolchain, needs_build_std
from ci_tools.config import Config, Profile
from ci_tools.util import locks, proc

Subcommand = Literal["check", "clippy", "build"]


@dataclass(frozen=True, kw_only=True)
class CargoCommand:
    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        """The command as a person would type it (PATH left out)."""
        assignments = []
        for key, value in self.env.items():
            if key == "PATH":
                continue
            if key == "CARGO_ENCODED_RUSTFLAGS":  # \x1f-separated: show the readable form
                key, value = "RUSTFLAGS", " ".join(value.split("\x1f"))
            assignments.append(f"{key}={shlex.quote(value)}")
        return " ".join([*assignments, proc.quote(self.argv)])


def profile_flags(config: Config, profile: Profile, toolchain: Toolchain) -> list[str]:
    """The flags that make a cargo command build exactly this profile."""
    flags = []
    if needs_build_std(profile, toolchain):
        flags += ["-Z", f"build-std={','.join(config.kernel.build_std)}"]
    if profile.target_is_spec and toolchain.json_target_spec:
        flags += ["-Z", "json-target-spec"]
    flags += ["--target", profile.target, "--manifest-path", str(config.kernel.manifest)]
    flags.append("--no-default-features")
    if profile.features:
        flags += ["--features", profile.feature]
    return flags + list(toolchain.config_args)


def rustflags_env(profile: Profile) -> dict[str, str]:
    """The profile's extra rustflags, as cargo's unambiguous encoded variable."""
    if not profile.rustflags:
        return {}
    return {"CARGO_ENCODED_RUSTFLAGS": "\x1f".join(profile.rustflags)}


def cargo_command(
    subcommand: Subcommand,
    config: Config,
    profile: Profile,
    toolchain: Toolchain,
    *,
    release: bool = False,
    env: Mapping[str, str] | None = None,
) -> CargoCommand:
    """``cargo check|clippy|build`` for a profile; clippy adds only its lint arguments."""
    argv = [toolchain.cargo, subcommand, *profile_flags(config, profile, toolchain)]
    if release:
        argv.append("--release")
    if subcommand in ("check", "clippy"):  # report every crate, not the first that fails
        argv.append("--keep-going")
    argv.append("--message-format=json")
    if subcommand == "clippy":
        lints = (["-D", "warnings"] if config.clippy.deny_warnings else []) + list(
            config.clippy.args
        )
        if lints:
            argv += ["--", *lints]
    return CargoCommand(
        argv=tuple(argv),
        cwd=config.kernel.workdir,
        env={**toolchain.env, **config.kernel.env, **rustflags_env(profile), **(env or {})},
    )


def fmt_command(config: Config, toolchain: Toolchain, *, check: bool = True) -> CargoCommand:
    """``cargo fmt --check`` with the configured arguments; ``check=False``: the command
    that formats those same files (what the hint tells a person to run)."""
    argv = [toolchain.cargo, "fmt", "--manifest-path", str(config.kernel.manifest),
            *config.fmt.args]  # fmt: skip
    if check:
        argv[2:2] = ["--check"]
        # rustfmt's own option, after the configured args' `--` if they have one
        argv += ["--color", "never"] if "--" in config.fmt.args else ["--", "--color", "never"]
    return CargoCommand(
        argv=tuple(argv), cwd=config.kernel.workdir, env={**toolchain.env, **config.kernel.env}
    )


# --------------------------------------------------------------------------
# running


def report_base(config: Config) -> Path:
    """Annotation paths are relative to the checkout (GitHub's workspace)."""
    return Path(os.environ.get("GITHUB_WORKSPACE") or config.root)


def _target_dir(command: CargoCommand) -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR") or command.cwd / "target")


def _first_build(command: CargoCommand, profile: Profile) -> bool:
    """Whether cargo has never built for this target here (then core and alloc come first)."""
    name = Path(profile.target).stem if profile.target_is_spec else profile.target
    return not (_target_dir(command) / name).is_dir()


def busy_build_dir(command: CargoCommand) -> Path | None:
    """A build folder another cargo holds (cargo flocks ``<profile>/.cargo-lock`` while it
    builds there): two runs on one target folder are safe, the second cargo waits."""
    target_dir = _target_dir(command)
    held = [
        lock
        for pattern in ("*/.cargo-lock", "*/*/.cargo-lock")
        for lock in target_dir.glob(pattern)
        if locks.in_use(lock)
    ]
    return held[0].parent if held else None


def run(
    command: CargoCommand,
    *,
    title: str,
    base: Path,
    profile: Profile | None = None,
    warnings: bool = True,
) -> tuple[int, CargoRun]:
    """Run a cargo command and show its messages (``warnings=False``: errors only);
    (return code, what the compiler said)."""
    output.phase(f"{title}: {command}")
    if profile is not None and _first_build(command, profile):
        output.info(f"{title}: first build for {profile.target}: core and alloc are compiled "
                    "too (about half a minute)")  # fmt: skip
    busy = busy_build_dir(command)
    if busy is not None:
        output.info(f"{title}: another cargo is building in {busy}; cargo waits for it")
    completed = proc.run(command.argv, cwd=command.cwd, env=command.env, check=False, quiet=True)
    parsed = diagnostics.parse_cargo(completed.stdout, base=base)
    failed = completed.returncode != 0
    diagnostics.report(title, parsed, failed=failed, warnings=warnings)
    return completed.returncode, parsed
