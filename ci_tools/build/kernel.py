"""Build a profile's kernel image for its benchmark, and refuse a stale one.

The bench build passes the init selection to the kernel build through the
environment, as Kevlar does (``INIT_SCRIPT=/bin/bench make build``).  Cargo
only rebuilds when it is told the variable matters, so two checks guard
against booting a kernel built with another init:

1. before building: the kernel's build script must declare
   ``cargo::rerun-if-env-changed=VAR`` for every variable the build sets;
   if not, the error names the file and the exact line to add;
2. after building: ci_tools remembers, per image, the variables it was last
   built with and its hash.  When a variable changed but the image did not,
   the build reused a stale kernel, and that is an error too.

Every profile of a kernel crate builds to the same image path (cargo's
features do not change it), so two runs (two profiles, or one profile with
other bench arguments) would overwrite each other's image between build and
boot.  A build therefore holds the crate's lock from the build through the
image check to a private copy of the image, named by its hash, and that copy
is what is booted and recorded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ci_tools import output
from ci_tools.build import cargo
from ci_tools.build.toolchain import resolve
from ci_tools.config import BENCH_ARGS_PLACEHOLDER, Config, KernelBuild, Profile
from ci_tools.errors import BuildError, HarnessError
from ci_tools.util import locks, proc
from ci_tools.util.files import write_atomic
from ci_tools.util.paths import cache_dir, sha256_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_RERUN_ENV = re.compile(r"cargo::?rerun-if-env-changed=([A-Za-z_][A-Za-z0-9_]*)")
_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def rerun_line(variable: str) -> str:
    return f'println!("cargo::rerun-if-env-changed={variable}");'


def build_script(manifest: Path) -> Path | None:
    """The package's build script: ``package.build`` in Cargo.toml, else build.rs."""
    try:
        package = tomllib.loads(manifest.read_text(encoding="utf-8")).get("package", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {manifest}: {exc}") from exc
    declared = package.get("build")
    if declared is False:
        return None
    if isinstance(declared, str):
        return manifest.parent / declared
    default = manifest.parent / "build.rs"
    return default if default.is_file() else None


def declared_variables(script: Path) -> set[str]:
    """Variables the script declares; a declaration in a comment does not count."""
    code = _COMMENTS.sub("", script.read_text(encoding="utf-8"))
    return set(_RERUN_ENV.findall(code))


def check_rerun_declarations(manifest: Path, variables: Mapping[str, str]) -> None:
    """BuildError naming the missing ``rerun-if-env-changed`` lines, if any."""
    if not variables:
        return
    script = build_script(manifest)
    names = sorted(variables)
    if script is None or not script.is_file():
        where = script or manifest.parent / "build.rs"
        body = "\n".join(f"    {rerun_line(v)}" for v in names)
        raise BuildError(
            f"the kernel build sets {', '.join(names)}, but {manifest.parent} has no build script "
            f"that tells cargo to rebuild when they change: a stale kernel would be booted",
            hint=f"create {where} with:\nfn main() {{\n{body}\n}}",
        )
    missing = [v for v in names if v not in declared_variables(script)]
    if missing:
        lines = "\n".join(f"    {rerun_line(v)}" for v in missing)
        raise BuildError(
            f"{script} does not declare rerun-if-env-changed for {', '.join(missing)}: cargo "
            "would reuse a kernel built with another value (a stale kernel)",
            hint=f"add to fn main() in {script}:\n{lines}",
        )


# --------------------------------------------------------------------------
# the image-changed check


STAMP_SUFFIX = ".ci_tools-build.json"


def _stamp_path(image: Path) -> Path:
    """Beside the image, so the record travels with it: a CI runner that restores a
    cached target/ folder restores what built it too (a record kept in ci_tools' own
    cache would be missing there, and the stale-image check would never fire)."""
    return image.with_name(image.name + STAMP_SUFFIX)


def read_stamp(image: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_stamp_path(image).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_stamp(image: Path, *, profile: str, env: Mapping[str, str], sha256: str) -> None:
    stamp = {"image": str(image.resolve()), "profile": profile, "env": dict(env), "sha256": sha256}
    write_atomic(_stamp_path(image), json.dumps(stamp, indent=2) + "\n")


def check_image_changed(
    image: Path, *, previous: Mapping[str, Any] | None, env: Mapping[str, str], sha256: str,
    script: Path | None,
) -> None:  # fmt: skip
    """BuildError when a build variable changed since the last build but the image did not."""
    if previous is None or previous.get("sha256") != sha256:
        return
    before = previous.get("env") or {}
    changed = sorted(v for v in env if v in before and before[v] != env[v])
    if not changed:
        return
    what = ", ".join(f"{v} ({before[v]!r} -> {env[v]!r})" for v in changed)
    declared = declared_variables(script) if script and script.is_file() else set()
    undeclared = [v for v in changed if v not in declared]
    if undeclared:
        hint = f"add to fn main() in {script or 'build.rs'}:\n" + "\n".join(
            f"    {rerun_line(v)}" for v in undeclared
        )
    else:
        hint = (
            f"{script} declares rerun-if-env-changed for {', '.join(changed)}, so the build "
            "command does not pass the variable on to cargo (export it in the Makefile), or "
            "the kernel does not use it"
        )
    raise BuildError(
        f"kernel image {image} is byte-for-byte the one built before although {what} "
        "changed: the build reused a stale kernel",
        hint=hint,
    )


# --------------------------------------------------------------------------
# building


def _artifact(runs: list[dict[str, Any]], manifest: Path) -> Path | None:
    """The kernel package's final artifact in cargo's JSON messages."""
    for artifact in reversed(runs):
        if Path(artifact.get("manifest_path", "")).resolve() != manifest.resolve():
            continue
        if artifact.get("executable"):
            return Path(artifact["executable"])
        files = [f for f in artifact.get("filenames", []) if not f.endswith(".rmeta")]
        if files:
            return Path(files[-1])
    return None


def _cargo_build(config: Config, profile: Profile, build: KernelBuild) -> Path | None:
    toolchain = resolve(config, [profile])
    command = cargo.cargo_command(
        "build", config, profile, toolchain, release=build.release, env=build.env
    )
    title = f"cargo build ({profile.name})"
    # A build for a benchmark: its warnings are the lint sessions' business (Kevlar's
    # bench log carried ~1,900 lines of them).
    returncode, run = cargo.run(
        command, title=title, base=cargo.report_base(config), profile=profile, warnings=False
    )
    if returncode != 0:
        raise BuildError(f"{title} failed: {run.counts()}", hint="see the compiler output above")
    return _artifact(run.artifacts, config.kernel.manifest)


def _command_build(config: Config, profile: Profile, build: KernelBuild) -> None:
    assert build.command is not None
    toolchain = resolve(config, [profile])
    flags = cargo.profile_flags(config, profile, toolchain)
    env = {
        **toolchain.env,
        "CI_TOOLS_PROFILE": profile.name,
        # The flags ci_tools' own cargo commands use for this profile, for a
        # Makefile that wants them: `CARGOFLAGS += $(CI_TOOLS_CARGO_FLAGS)`.
        "CI_TOOLS_CARGO_FLAGS": shlex.join(flags),
        "CI_TOOLS_RUSTFLAGS": shlex.join(profile.rustflags),
        **build.env,
    }
    shown = " ".join(f"{k}={shlex.quote(v)}" for k, v in build.env.items())
    output.phase(f"building the {profile.name} kernel: {shown} {proc.quote(build.command)}")
    completed = proc.run(build.command, cwd=config.root, env=env, capture=False, check=False)
    if completed.returncode != 0:
        raise BuildError(
            f"the kernel build for profile {profile.name!r} failed with exit code "
            f"{completed.returncode}: {proc.quote(build.command)}",
            hint="see the build output above",
        )


def with_bench_args(build: KernelBuild, bench_args: str) -> KernelBuild:
    """The build whose env has ``{bench_args}`` replaced (args = "build"): the bench
    arguments baked into the kernel's init, e.g. INIT_SCRIPT="/bin/bench --quick"."""
    env = {k: v.replace(BENCH_ARGS_PLACEHOLDER, bench_args).strip() for k, v in build.env.items()}
    return dataclasses.replace(build, env=env)


def build_image(config: Config, profile: Profile, *, bench_args: str = "") -> Path:
    """Build the profile's kernel image with its bench environment (and, where the env
    asks for them, the bench arguments); return the image."""
    spec = profile.bench
    if spec is None or spec.build is None:
        raise HarnessError(f"profile {profile.name!r} has no kernel build")
    build = with_bench_args(spec.build, bench_args)
    script = build_script(config.kernel.manifest)
    check_rerun_declarations(config.kernel.manifest, build.env)
    crate = str(config.kernel.manifest.resolve())
    lock = cache_dir("kernel-builds") / f"{hashlib.sha256(crate.encode()).hexdigest()[:20]}.lock"
    waiting = f"waiting for another ci_tools run that is building this kernel ({crate})"
    with locks.exclusive(lock, waiting=waiting):
        image = _build(config, profile, build)
        digest = sha256_file(image)
        check_image_changed(
            image, previous=read_stamp(image), env=build.env, sha256=digest, script=script
        )
        write_stamp(image, profile=profile.name, env=build.env, sha256=digest)
        booted = _private_copy(image, digest)
    output.info(f"{profile.name}: kernel image {image} (sha256 {digest[:12]}…)")
    return booted


def _build(config: Config, profile: Profile, build: KernelBuild) -> Path:
    spec = profile.bench
    assert spec is not None
    if build.cargo:
        artifact = _cargo_build(config, profile, build)
        image = spec.image or artifact
    else:
        _command_build(config, profile, build)
        image = spec.image
    if image is None or not image.is_file():
        raise BuildError(
            f"the kernel build for profile {profile.name!r} finished, but the image "
            f"{image or '(no artifact)'} does not exist",
            hint=f"set [profiles.{profile.name}.bench] image to the file the build writes",
        )
    return image


def _private_copy(image: Path, digest: str) -> Path:
    """The image copied to ci_tools' cache under its hash: the next build (another run,
    another profile) rewrites the image in place, never this copy."""
    copy = cache_dir("images") / f"{image.name}-{digest[:20]}"
    if not copy.is_file():
        with locks.scratch_dir(copy.parent, ".copy-") as scratch:
            shutil.copy2(image, scratch / copy.name)
            (scratch / copy.name).replace(copy)
    return copy
