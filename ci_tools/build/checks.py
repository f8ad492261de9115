"""``check``, ``clippy`` and ``fmt`` for the profiles of a config.

Each runs the command ``build.cargo`` builds, reports what the compiler
found through ``build.diagnostics`` and raises ``BuildError`` (exit code
5) when the check fails: a lint job that finds problems fails, always.
"""

from __future__ import annotations

from collections.abc import Sequence

from ci_tools import output
from ci_tools.build import cargo, diagnostics
from ci_tools.build.diagnostics import CargoRun
from ci_tools.build.toolchain import Toolchain, require_component, resolve
from ci_tools.config import Config, Profile
from ci_tools.errors import BuildError
from ci_tools.util import proc

# The error names this many unformatted files; the report above lists all of them.
FILES_NAMED = 10


def _failure(title: str, returncode: int, run: CargoRun) -> BuildError:
    if run.errors:
        return BuildError(f"{title} failed: {run.counts()} (listed above)")
    tail = "\n".join(run.transcript[-15:])
    return BuildError(
        f"{title} failed with exit code {returncode} and no compiler message:\n{tail}",
        hint="cargo itself failed (see its output above): a manifest, target spec or "
        "toolchain problem",
    )


def _toolchain(config: Config, profiles: Sequence[Profile]) -> Toolchain:
    toolchain = resolve(config, profiles)
    output.info(f"toolchain: {toolchain.describe()}")
    return toolchain


def check(config: Config, name: str) -> None:
    profile = config.profile(name)
    toolchain = _toolchain(config, [profile])
    title = f"cargo check ({profile.name})"
    command = cargo.cargo_command("check", config, profile, toolchain)
    returncode, run = cargo.run(
        command, title=title, base=cargo.report_base(config), profile=profile
    )
    if returncode != 0:
        raise _failure(title, returncode, run)


def clippy(config: Config, names: Sequence[str] = ()) -> None:
    """clippy with each profile's check flags; all profiles run, then failures are raised."""
    profiles = [config.profile(n) for n in (names or config.clippy.profiles)]
    toolchain = _toolchain(config, profiles)
    require_component(toolchain, "cargo-clippy", "clippy")
    failed = []
    for profile in profiles:
        title = f"cargo clippy ({profile.name})"
        command = cargo.cargo_command("clippy", config, profile, toolchain)
        returncode, run = cargo.run(
            command, title=title, base=cargo.report_base(config), profile=profile
        )
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
    require_component(toolchain, "cargo-fmt", "rustfmt")
    command = cargo.fmt_command(config, toolchain)
    fix = str(cargo.fmt_command(config, toolchain, check=False))
    output.phase(f"cargo fmt --check: {command}")
    completed = proc.run(command.argv, cwd=command.cwd, env=command.env, check=False, quiet=True)
    diffs, other = diagnostics.parse_rustfmt(completed.stdout, base=cargo.report_base(config))
    diagnostics.report_format("cargo fmt --check", diffs, other, fix=fix)
    files = list(diagnostics.by_file(diffs))
    if completed.returncode == 0 and not diffs:
        output.info("cargo fmt --check: every file is formatted")
        return
    if files:
        shown = ", ".join(files[:FILES_NAMED])
        more = (
            f" and {len(files) - FILES_NAMED} more (listed above)"
            if len(files) > FILES_NAMED
            else ""
        )
        raise BuildError(
            f"{len(files)} file(s) not formatted as rustfmt would: {shown}{more}",
            hint=f"run `{fix}` and commit the result",
        )
    raise BuildError(
        f"cargo fmt --check failed with exit code {completed.returncode}:\n"
        + "\n".join(other[-15:]),
        hint="rustfmt could not read a file (a syntax error?); see the output above",
    )
