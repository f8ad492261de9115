"""The one config file (``ci_tools.toml``): a kernel's profile matrix.

Every profile is declared once: its target spec, cargo features and
rustflags, and how its benchmark gets a kernel.  The nox sessions
(``ci_tools.sessions``), the cargo commands (``build.cargo``) and the
bench runs (``bench.targets``) are all derived from the parsed
``Config``, so they cannot drift apart.

The file is validated against ``schemas/config-v1.schema.json`` on every
load.  Every problem is collected and reported in one ``BadInputError``,
with "did you mean …?" for misspelt keys and profile names.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import jsonschema

from ci_tools.errors import BadInputError
from ci_tools.util.schemas import load_schema

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SCHEMA_FILE = "config-v1.schema.json"
DEFAULT_FILE = "ci_tools.toml"
ENV_VAR = "CI_TOOLS_CONFIG"
DEFAULT_BUILD_STD = ("core", "alloc")
# The guest kernel command line before the bench arguments (bench.run
# imports it from here: a config load must not pull in the QEMU pipeline).
DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1"
PROFILE_PLACEHOLDER = "{profile}"

ToolchainChoice = Literal["auto", "rustup", "debian"]
GuestKind = Literal["linux", "kernel"]
BootMethod = Literal["kernel", "multiboot-elf64"]
BenchSuite = Literal["ci_tools", "kernel"]
ArgsRoute = Literal["after-dashes", "cmdline", "build", "none"]
# In a kernel build's env (args = "build"): replaced by the bench arguments.
BENCH_ARGS_PLACEHOLDER = "{bench_args}"


@dataclass(frozen=True, kw_only=True)
class KernelCrate:
    """Where the kernel crate is and which toolchain runs cargo on it."""

    crate_dir: Path  # folder holding Cargo.toml (absolute)
    workdir: Path  # where cargo runs; target spec paths are relative to it (absolute)
    toolchain: ToolchainChoice = "auto"
    rustup_toolchain: str | None = None
    build_std: tuple[str, ...] = DEFAULT_BUILD_STD
    env: Mapping[str, str] = field(default_factory=dict)  # for every cargo command

    @property
    def manifest(self) -> Path:
        return self.crate_dir / "Cargo.toml"


@dataclass(frozen=True, kw_only=True)
class KernelBuild:
    """How a profile's kernel image is built for its benchmark."""

    command: tuple[str, ...] | None = None  # an external command, e.g. ("make", "build")
    cargo: bool = False  # ci_tools' own `cargo build` with the profile's flags
    release: bool = False
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ExitDevice:
    """QEMU's isa-debug-exit: the guest writes v to the port, QEMU exits (v << 1) | 1."""

    iobase: int
    iosize: int = 4
    success: int = 1  # the QEMU exit status of a normal end

    def qemu_args(self) -> tuple[str, ...]:
        return ("-device", f"isa-debug-exit,iobase={self.iobase:#x},iosize={self.iosize:#x}")


@dataclass(frozen=True, kw_only=True)
class BenchSpec:
    """How ``bench-<profile>`` gets and boots its kernel."""

    guest: GuestKind
    cmdline: str | None = None  # base command line; None: [linux] cmdline or the default
    cmdline_extra: str = ""
    machine: str | None = None
    image: Path | None = None  # guest = "kernel": the image to boot (absolute)
    build: KernelBuild | None = None
    cpu: str | None = None
    memory_mb: int | None = None
    qemu_args: tuple[str, ...] = ()
    boot: BootMethod = "kernel"
    exit_device: ExitDevice | None = None
    suite: BenchSuite = "ci_tools"
    args: ArgsRoute = "after-dashes"


@dataclass(frozen=True, kw_only=True)
class Profile:
    name: str
    target: str  # as written: a .json spec path (relative to workdir) or a triple
    features: tuple[str, ...] = ()
    rustflags: tuple[str, ...] = ()
    bench: BenchSpec | None = None

    @property
    def target_is_spec(self) -> bool:
        return is_target_spec(self.target)

    @property
    def feature(self) -> str:
        return ",".join(self.features)


@dataclass(frozen=True, kw_only=True)
class ClippyConfig:
    profiles: tuple[str, ...]  # resolved: every profile when the config names none
    deny_warnings: bool = True
    args: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FmtConfig:
    args: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class LinuxGuest:
    kernel: Path | None = None
    cmdline: str = DEFAULT_CMDLINE
    binary: Path | None = None  # the bench it runs as init; None: ci_tools' bench.c


@dataclass(frozen=True, kw_only=True)
class CompareConfig:
    min_effect: Mapping[str, float] = field(default_factory=dict)

    def min_effect_for(self, benchmark: str) -> float | None:
        """The benchmark's own minimum effect, else ``default``, else None (the caller's)."""
        return self.min_effect.get(benchmark, self.min_effect.get("default"))


InconclusivePolicy = Literal["fail", "warn"]


@dataclass(frozen=True, kw_only=True)
class GateConfig:
    """``[gate]``: how many boots bench-pr may spend, and what an undecided table does."""

    min_boots: int | None = None  # per side at the first look; None: what the family needs
    max_boots: int | None = None  # per side, the budget; None: ci_tools' default
    inconclusive: InconclusivePolicy = "fail"  # after the budget: fail the check, or warn


@dataclass(frozen=True, kw_only=True)
class Config:
    path: Path
    kernel: KernelCrate
    profiles: tuple[Profile, ...]
    clippy: ClippyConfig
    fmt: FmtConfig = FmtConfig()
    linux: LinuxGuest = LinuxGuest()
    compare: CompareConfig = CompareConfig()
    gate: GateConfig = GateConfig()

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def profile_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.profiles)

    def matrix(self) -> list[dict[str, Any]]:
        """One entry per profile, as a GitHub Actions matrix's ``include`` takes them."""
        return [
            {"profile": p.name, "target": p.target, "features": list(p.features),
             "guest": p.bench.guest if p.bench else None}
            for p in self.profiles
        ]  # fmt: skip

    def describe(self) -> str:
        """The matrix for a person: the config, then one line per profile."""
        lines = [f"{self.path}: valid; kernel crate {self.kernel.crate_dir}"]
        for p in self.profiles:
            guest = p.bench.guest if p.bench else "-"
            lines.append(f"  {p.name:<12} {p.target:<34} {p.feature:<24} bench: {guest}")
        return "\n".join(lines)

    def profile(self, name: str) -> Profile:
        for p in self.profiles:
            if p.name == name:
                return p
        raise BadInputError(
            f"{self.path}: no profile {name!r}{did_you_mean(name, self.profile_names)}",
            hint=f"profiles in this config: {', '.join(self.profile_names)}",
        )


def is_target_spec(target: str) -> bool:
    return target.endswith(".json")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def default_path() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_FILE)


# --------------------------------------------------------------------------
# loading


def load(path: Path | str | None = None, *, check_paths: bool = True) -> Config:
    """Read, validate and parse a config file; every problem in one BadInputError.

    ``check_paths=False`` skips the checks that the crate and target specs
    exist (for validating a config that describes another repository).
    """
    path = Path(path) if path is not None else default_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInputError(
            f"config file {path} does not exist",
            hint=f"create {DEFAULT_FILE} (see README, 'Adopting ci_tools'), or pass --config PATH",
        ) from None
    except OSError as exc:
        raise BadInputError(f"cannot read config file {path}: {exc.strerror}") from exc
    return loads(text, path=path, check_paths=check_paths)


def loads(text: str, *, path: Path, check_paths: bool = True) -> Config:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInputError(
            f"{path}: not valid TOML: {exc}", hint="fix the syntax at the line shown"
        ) from exc
    path = path.resolve()
    problems = schema_problems(document)
    problems += semantic_problems(document, root=path.parent, check_paths=check_paths)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise BadInputError(
            f"{path}: {len(problems)} problem(s):\n{listing}",
            hint=f"see schemas/{SCHEMA_FILE} for every key and what it means",
        )
    return _parse(document, path=path)


def _key_path(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def schema_problems(document: Mapping[str, Any]) -> list[str]:
    """Schema violations as readable lines, unknown keys with a suggestion."""
    schema = load_schema(SCHEMA_FILE)
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[str] = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.path))):
        where = _key_path(list(error.absolute_path))
        if error.validator == "additionalProperties" and isinstance(error.instance, dict):
            known = list(error.schema.get("properties", {}))
            for key in error.instance:
                if key not in known:
                    key_path = _key_path([*error.absolute_path, key])
                    problems.append(f"{key_path}: unknown key{did_you_mean(key, known)}")
        elif error.validator == "oneOf" and list(error.absolute_path)[-1:] == ["build"]:
            problems.append(f"{where}: give exactly one of `command = [...]` or `cargo = true`")
        elif "propertyNames" in error.absolute_schema_path and where == "profiles":
            problems.append(
                f"profiles: invalid profile name {error.instance!r}: lower-case letters, "
                "digits, '-' and '_', and not 'all', 'linux' or 'host' (those name other sessions)"
            )
        elif "propertyNames" in error.absolute_schema_path:
            problems.append(f"{where}: invalid name {error.instance!r}: {error.message}")
        else:
            problems.append(f"{where}: {error.message}")
    return problems


def _table(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def semantic_problems(
    document: Mapping[str, Any], *, root: Path, check_paths: bool = True
) -> list[str]:
    """What the schema cannot say: names that must refer to profiles, files that
    must exist, bench tables that must be complete once defaults are applied.

    Written defensively: it runs on documents that also failed the schema, so
    that every problem is reported in one go."""
    problems: list[str] = []
    profiles = _table(document.get("profiles"))
    names = list(profiles)
    clippy = _table(document.get("clippy")).get("profiles")
    if isinstance(clippy, list):
        for name in clippy:
            if isinstance(name, str) and name not in profiles:
                problems.append(
                    f"clippy.profiles: {name!r} is not a profile{did_you_mean(name, names)}"
                )
    gate = _table(document.get("gate"))
    low, high = gate.get("min_boots"), gate.get("max_boots")
    if isinstance(low, int) and isinstance(high, int) and low > high:
        problems.append(
            f"gate: min_boots ({low}) is above max_boots ({high}): the budget must allow "
            "the first look"
        )
    kernel = _table(document.get("kernel"))
    workdir: Path | None = None  # known only when paths are checked and it exists
    features: set[str] | None = None  # the crate's own features, when it can be read
    if check_paths and isinstance(kernel.get("crate"), str):
        crate = root / kernel["crate"]
        workdir = root / kernel["workdir"] if isinstance(kernel.get("workdir"), str) else crate
        if not (crate / "Cargo.toml").is_file():
            problems.append(f"kernel.crate: {crate / 'Cargo.toml'} does not exist")
        else:
            features = _crate_features(crate / "Cargo.toml")
        if "workdir" in kernel and not workdir.is_dir():
            problems.append(f"kernel.workdir: {workdir} is not a folder")
        if not workdir.is_dir():
            workdir = None
    defaults = _table(document.get("bench"))
    for name, raw in profiles.items():
        profile = _table(raw)
        target = profile.get("target")
        if (
            workdir is not None
            and isinstance(target, str)
            and is_target_spec(target)
            and not (workdir / target).is_file()
        ):
            problems.append(
                f"profiles.{name}.target: target spec {workdir / target} does not exist "
                "(target spec paths are relative to kernel.workdir)"
            )
        wanted = profile.get("features")
        if features is not None and isinstance(wanted, list):
            for feature in wanted:
                if isinstance(feature, str) and "/" not in feature and feature not in features:
                    problems.append(
                        f"profiles.{name}.features: {feature!r} is not a feature of the kernel "
                        f"crate{did_you_mean(feature, features)}"
                    )
        own = _table(profile.get("bench"))
        if "bench" not in profile and not defaults:
            continue
        bench = {**defaults, **own}
        guest = bench.get("guest")
        # A problem that comes from [bench] alone is reported once, there.
        where = f"profiles.{name}.bench" if {"guest", "image", "build"} & set(own) else "bench"
        if guest is None:
            message = f'{where}: no guest: set guest = "linux" or "kernel" (here or in [bench])'
        elif (
            guest == "kernel"
            and "image" not in bench
            and not _table(bench.get("build")).get("cargo")
        ):
            message = f'{where}: guest = "kernel" needs image = "path of the built kernel"'
        elif guest == "linux" and ("build" in bench or "image" in bench):
            message = (
                f'{where}: build and image have no effect with guest = "linux" (the reference '
                'Linux kernel is booted); remove them or use guest = "kernel"'
            )
        elif bench.get("args") == "build" and not any(
            BENCH_ARGS_PLACEHOLDER in str(v)
            for v in _table(_table(bench.get("build")).get("env")).values()
        ):
            message = (
                f'{where}: args = "build" needs {BENCH_ARGS_PLACEHOLDER} in a build env value, '
                f'e.g. env = {{ INIT_SCRIPT = "/bin/bench {BENCH_ARGS_PLACEHOLDER}" }}'
            )
        elif guest == "linux" and bench.get("suite") == "kernel":
            message = (
                f'{where}: suite = "kernel" needs guest = "kernel": the reference Linux guest '
                "has no bench of its own"
            )
        else:
            continue
        if message not in problems:
            problems.append(message)
    return problems


def _crate_features(manifest: Path) -> set[str] | None:
    """Feature names a profile may select: [features] and optional dependencies."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None  # cargo will say what is wrong with it
    names = set(_table(data.get("features")))
    for table in ("dependencies", "build-dependencies"):
        for dep, spec in _table(data.get(table)).items():
            if isinstance(spec, dict) and spec.get("optional"):
                names.add(dep)
    return names


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(cast(list[str], value or []))


def _expand(text: str, profile: str) -> str:
    return text.replace(PROFILE_PLACEHOLDER, profile)


def _bench(raw: Mapping[str, Any], *, profile: str, root: Path) -> BenchSpec:
    build_raw = raw.get("build")
    build = None
    if build_raw is not None:
        command = build_raw.get("command")
        build = KernelBuild(
            command=tuple(_expand(a, profile) for a in command) if command else None,
            cargo=bool(build_raw.get("cargo", False)),
            release=bool(build_raw.get("release", False)),
            env={k: _expand(v, profile) for k, v in build_raw.get("env", {}).items()},
        )
    image = raw.get("image")
    exit_raw = raw.get("exit_device")
    exit_device = None
    if exit_raw is not None:
        exit_device = ExitDevice(
            iobase=exit_raw["iobase"],
            iosize=exit_raw.get("iosize", 4),
            success=exit_raw.get("success", 1),
        )
    return BenchSpec(
        guest=raw["guest"],
        cmdline=raw.get("cmdline"),
        cmdline_extra=raw.get("cmdline_extra", ""),
        machine=raw.get("machine"),
        image=root / _expand(image, profile) if image else None,
        build=build,
        cpu=raw.get("cpu"),
        memory_mb=raw.get("memory"),
        qemu_args=_strings(raw.get("qemu_args")),
        boot=raw.get("boot", "kernel"),
        exit_device=exit_device,
        suite=raw.get("suite", "ci_tools"),
        args=raw.get("args", "after-dashes"),
    )


def _parse(document: Mapping[str, Any], *, path: Path) -> Config:
    root = path.parent
    kernel_raw = document["kernel"]
    crate = (root / kernel_raw["crate"]).resolve()
    kernel = KernelCrate(
        crate_dir=crate,
        workdir=(root / kernel_raw["workdir"]).resolve() if "workdir" in kernel_raw else crate,
        toolchain=kernel_raw.get("toolchain", "auto"),
        rustup_toolchain=kernel_raw.get("rustup_toolchain"),
        build_std=tuple(kernel_raw.get("build_std", DEFAULT_BUILD_STD)),
        env=dict(kernel_raw.get("env", {})),
    )
    defaults = _table(document.get("bench"))
    profiles = []
    for name, raw in document["profiles"].items():
        bench_raw = {**defaults, **_table(raw.get("bench"))}
        profiles.append(
            Profile(
                name=name,
                target=raw["target"],
                features=_strings(raw.get("features")),
                rustflags=_strings(raw.get("rustflags")),
                bench=_bench(bench_raw, profile=name, root=root) if bench_raw else None,
            )
        )
    names = tuple(p.name for p in profiles)
    clippy_raw = _table(document.get("clippy"))
    linux_raw = _table(document.get("linux"))
    min_effect = _table(_table(document.get("compare")).get("min_effect"))
    gate_raw = _table(document.get("gate"))
    return Config(
        path=path,
        kernel=kernel,
        profiles=tuple(profiles),
        clippy=ClippyConfig(
            profiles=tuple(clippy_raw.get("profiles", names)),
            deny_warnings=clippy_raw.get("deny_warnings", True),
            args=_strings(clippy_raw.get("args")),
        ),
        fmt=FmtConfig(args=_strings(_table(document.get("fmt")).get("args"))),
        linux=LinuxGuest(
            kernel=root / linux_raw["kernel"] if "kernel" in linux_raw else None,
            cmdline=linux_raw.get("cmdline", DEFAULT_CMDLINE),
            binary=root / linux_raw["binary"] if "binary" in linux_raw else None,
        ),
        compare=CompareConfig(
            min_effect={name: float(value) for name, value in min_effect.items()}
        ),
        gate=GateConfig(
            min_boots=gate_raw.get("min_boots"),
            max_boots=gate_raw.get("max_boots"),
            inconclusive=gate_raw.get("inconclusive", "fail"),
        ),
    )
