"""``check``, ``clippy`` and ``fmt`` for the profiles of a config.

Each runs the command ``ci_tools.cargo`` builds, reports what the compiler
found through ``ci_tools.diagnostics`` and raises ``BuildError`` (exit code
5) when the check fails: a lint job that finds problems fails, always.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ci_tools import cargo, diagnostics, output
from ci_tools.config import Config, Profile
from ci_tools.diagnostics import CargoRun
from ci_tools.errors import BuildError
from ci_tools.util import proc


def report_base(config: Config) -> Path:
    """Annotation paths are relative to the checkout (GitHub's workspace)."""
    return Path(os.environ.get("GITHUB_WORKSPACE") or config.root)


def _first_build(command: cargo.CargoCommand, profile: Profile) -> bool:
    """Whether cargo has never built for this target here (then core and alloc come first)."""
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR") or command.cwd / "target")
    name = Path(profile.target).stem if profile.target_is_spec else profile.target
    return not (target_dir / name).is_dir()


def run_cargo(
    command: cargo.CargoCommand, *, title: str, base: Path, profile: Profile | None = None
) -> tuple[int, CargoRun]:
    output.phase(f"{title}: {command}")
    if profile is not None and _first_build(command, profile):
        output.info(f"{title}: first build for {profile.target}: core and alloc are compiled "
                    "too (about half a minute)")  # fmt: skip
    completed = proc.run(command.argv, cwd=command.cwd, env=command.env, check=False, quiet=True)
    run = diagnostics.parse_cargo(completed.stdout, base=base)
    failed = completed.returncode != 0
    diagnostics.report(title, run, failed=failed)
    return completed.returncode, run


def _failure(title: str, returncode: int, run: CargoRun) -> BuildError:
    if run.errors:
        return BuildError(f"{title} failed: {run.counts()} (listed above)")
    tail = "\n".join(run.transcript[-15:])
    return BuildError(
        f"{title} failed with exit code {returncode} and no compiler message:\n{tail}",
        hint="cargo itself failed (see its output above): a manifest, target spec or "
        "toolchain problem",
    )


def _toolchain(config: Config, profiles: Sequence[Profile]) -> cargo.Toolchain:
    toolchain = cargo.resolve(config, profiles)
    output.info(f"toolchain: {toolchain.describe()}")
    return toolchain


def check(config: Config, name: str) -> None:
    profile = config.profile(name)
    toolchain = _toolchain(config, [profile])
    title = f"cargo check ({profile.name})"
    command = cargo.cargo_command("check", config, profile, toolchain)
    returncode, run = run_cargo(command, title=title, base=report_base(config), profile=profile)
    if returncode != 0:
        raise _failure(title, returncode, run)


def clippy(config: Config, names: Sequence[str] = ()) -> None:
    """clippy with each profile's check flags; all profiles run, then failures are raised."""
    profiles = [config.profile(n) for n in (names or config.clippy.profiles)]
    toolchain = _toolchain(config, profiles)
    cargo.require_component(toolchain, "cargo-clippy", "clippy")
    failed = []
    for profile in profiles:
        title = f"cargo clippy ({profile.name})"
        command = cargo.cargo_command("clippy", config, profile, toolchain)
        returncode, run = run_cargo(command, title=title, base=report_base(config), profile=profile)
        if returncode != 0:
            failed.append((profile.name, _failure(title, returncode, run)))
    if failed:
        names_failed = ", ".join(n for n, _ in failed)
        details = "\n".join(f"  - {e.message}" for _, e in failed)
        raise BuildError(
            f"clippy failed for profile(s) {names_failed}:\n{details}",
            hint="fix the findings above"
            + (
                "; warnings fail clippy here ([clippy] deny_warnings = true)"
                if config.clippy.deny_warnings
                else ""
            ),
        )


def fmt(config: Config) -> None:
    toolchain = _toolchain(config, config.profiles)  # the one check and clippy use
    cargo.require_component(toolchain, "cargo-fmt", "rustfmt")
    command = cargo.fmt_command(config, toolchain)
    output.phase(f"cargo fmt --check: {command}")
    completed = proc.run(command.argv, cwd=command.cwd, env=command.env, check=False, quiet=True)
    diffs, other = diagnostics.parse_rustfmt(completed.stdout, base=report_base(config))
    diagnostics.report_format("cargo fmt --check", diffs, other)
    files = diagnostics.by_file(diffs)
    if completed.returncode == 0 and not diffs:
        output.info("cargo fmt --check: every file is formatted")
        return
    if files:
        raise BuildError(
            f"{len(files)} file(s) not formatted as rustfmt would: {', '.join(files)}",
            hint=f"run `cargo fmt --manifest-path {config.kernel.manifest}` and commit the result",
        )
    raise BuildError(
        f"cargo fmt --check failed with exit code {completed.returncode}:\n"
        + "\n".join(other[-15:]),
        hint="rustfmt could not read a file (a syntax error?); see the output above",
    )
