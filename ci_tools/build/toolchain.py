"""The Rust toolchain that runs cargo for a kernel crate.

Two toolchains can build ``core`` for a custom target:

- a rustup **nightly with rust-src** (what GitHub runners get from rustup);
- Debian's **rust-web** packages (``/usr/bin/cargo``, sources in
  ``/usr/lib/rustlib/src``): a stable compiler, so ``RUSTC_BOOTSTRAP=1``
  unlocks ``-Z``; ``RUSTC=/usr/bin/rustc`` and ``/usr/bin`` first on PATH
  keep rustup's proxies out; the standard library's own dependencies come
  from the vendored copies, through ``--config`` flags on the command line
  (nothing is written into the user's crate or ``CARGO_HOME``).

``toolchain = "auto"`` takes the first of the two that works and otherwise
says what to install.  A toolchain is judged by what it can do, not by its
presence: its cargo is asked once which ``-Z`` flags it knows (``-Z
json-target-spec`` is passed only to a cargo that has it; older ones read JSON
specs without it), and Debian's needs the vendored sources that build-std
resolves the standard library's dependencies from (1.85 has none, 1.96 has).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ci_tools.build import cargo_sources
from ci_tools.config import Config, KernelCrate, Profile
from ci_tools.errors import CiToolsError, SetupError
from ci_tools.util import apt, packages, proc

ToolchainKind = Literal["custom", "rustup", "debian"]

RUST_SRC = Path("lib/rustlib/src/rust/library")
DEBIAN_BIN = Path("/usr/bin")
DEBIAN_SYSROOT = Path("/usr")
DEBIAN_INSTALL = f"apt-get update && apt-get install {' '.join(packages.RUST)}"
RUSTUP_INSTALL = "rustup toolchain install nightly --component rust-src,clippy,rustfmt"
DEFAULT_RUSTUP_TOOLCHAIN = "nightly"
TOOLCHAIN_FILES = ("rust-toolchain.toml", "rust-toolchain")
PROBE_TIMEOUT = 60.0  # s; a rustup proxy may first unpack a toolchain


@dataclass(frozen=True, kw_only=True)
class Toolchain:
    kind: ToolchainKind
    cargo: str  # the program to run
    bin_dir: Path  # where cargo-clippy and cargo-fmt are looked for
    sysroot: Path
    version: str  # first line of `rustc -V`
    env: Mapping[str, str] = field(default_factory=dict)
    config_args: tuple[str, ...] = ()  # --config flags every cargo command gets
    # The -Z flags this cargo knows (`cargo -Z help`); None when it was not asked.
    unstable_flags: frozenset[str] | None = None

    @property
    def nightly(self) -> bool:
        return "nightly" in self.version or "-dev" in self.version

    @property
    def has_rust_src(self) -> bool:
        return (self.sysroot / RUST_SRC / "core" / "Cargo.toml").is_file()

    @property
    def vendor(self) -> Path:
        """Where Debian's rust-web-src keeps the standard library's dependencies."""
        return self.sysroot / RUST_SRC / "vendor"

    @property
    def json_target_spec(self) -> bool:
        """Whether ``-Z json-target-spec`` goes on the command line: cargo since 2025
        refuses a JSON target without it, and cargo before then refuses the flag."""
        return self.unstable_flags is not None and "json-target-spec" in self.unstable_flags

    @classmethod
    def probed(
        cls,
        kind: ToolchainKind,
        *,
        cargo: str,
        bin_dir: Path,
        env: Mapping[str, str],
        found: RustcProbe,
    ) -> Toolchain:
        """The toolchain whose rustc (and the cargo beside it) answered ``found``."""
        return cls(
            kind=kind, cargo=cargo, bin_dir=bin_dir, sysroot=found.sysroot,
            version=found.version, env=env, unstable_flags=found.unstable_flags,
        )  # fmt: skip

    def has_target(self, triple: str) -> bool:
        """Whether the standard library for a built-in target is installed."""
        return (self.sysroot / "lib" / "rustlib" / triple / "lib").is_dir()

    def describe(self) -> str:
        how = {
            "custom": f"$CARGO={self.cargo}",
            "rustup": "rustup",
            "debian": "Debian rust-web with RUSTC_BOOTSTRAP=1 and vendored std sources",
        }[self.kind]
        return f"{self.version} ({how})"

    def install_hint(self, component: str) -> str:
        if self.kind == "custom":
            return f"install {component} beside {self.cargo} (it looks for cargo-{component})"
        if self.kind == "rustup":
            name = self.env.get("RUSTUP_TOOLCHAIN", DEFAULT_RUSTUP_TOOLCHAIN)
            return f"rustup component add {component} --toolchain {name}"
        package = {"clippy": "rust-web-clippy", "rustfmt": "rustfmt-web"}.get(component, component)
        return f"apt-get install {package}"


def needs_build_std(profile: Profile, toolchain: Toolchain) -> bool:
    """A JSON spec always needs build-std; a built-in triple when its std is not installed."""
    return profile.target_is_spec or not toolchain.has_target(profile.target)


# --------------------------------------------------------------------------
# toolchain detection


@dataclass(frozen=True, kw_only=True)
class RustcProbe:
    sysroot: Path
    version: str
    unstable_flags: frozenset[str] | None = None  # what `cargo -Z help` lists


ProbeFn = Callable[[str, Mapping[str, str], Path], "RustcProbe | None"]


def probe_rustc(rustc: str, env: Mapping[str, str], cwd: Path) -> RustcProbe | None:
    """Ask a rustc for its sysroot and version, and the cargo beside it for the
    ``-Z`` flags it knows; None when the rustc does not answer."""
    try:
        sysroot = proc.run([rustc, "--print", "sysroot"], env=env, cwd=cwd, quiet=True,
                           timeout=PROBE_TIMEOUT)  # fmt: skip
        version = proc.run([rustc, "-V"], env=env, cwd=cwd, quiet=True, timeout=PROBE_TIMEOUT)
    except (CiToolsError, OSError):
        return None
    if sysroot.returncode != 0 or version.returncode != 0:
        return None
    lines = version.stdout.strip().splitlines()
    first = lines[0] if lines else ""
    cargo = str(Path(rustc).with_name("cargo"))
    flags = _cargo_unstable_flags(cargo, tuple(sorted(env.items())), str(cwd), first)
    return RustcProbe(sysroot=Path(sysroot.stdout.strip()), version=first, unstable_flags=flags)


@functools.lru_cache(maxsize=8)
def _cargo_unstable_flags(
    cargo: str, env: tuple[tuple[str, str], ...], cwd: str, version: str
) -> frozenset[str] | None:
    """The ``-Z`` flags a cargo knows, asked once per cargo and compiler version.

    ``RUSTC_BOOTSTRAP=1`` lets a stable cargo answer; None when it cannot.
    """
    try:
        result = proc.run(
            [cargo, "-Z", "help"], env={**dict(env), "RUSTC_BOOTSTRAP": "1"}, cwd=Path(cwd),
            quiet=True, check=False, timeout=PROBE_TIMEOUT,
        )  # fmt: skip
    except (CiToolsError, OSError):  # hung, or no cargo beside this rustc
        return None
    if result.returncode != 0:
        return None
    return parse_unstable_flags(result.stdout)


def parse_unstable_flags(text: str) -> frozenset[str]:
    """The flag names in ``cargo -Z help`` output (``    -Z build-std   Enable ...``)."""
    return frozenset(re.findall(r"^\s*-Z\s+([a-z0-9-]+)", text, re.MULTILINE))


def _rustup_candidate(
    kernel: KernelCrate, probe: ProbeFn, which: Callable[[str], str | None]
) -> tuple[Toolchain | None, str]:
    rustup = which("rustup")
    if rustup is None:
        return None, "rustup is not installed"
    # The config's pin, else one the environment names (rustup's own precedence:
    # $RUSTUP_TOOLCHAIN over a rust-toolchain file; CI sets it to a dated nightly).
    name = kernel.rustup_toolchain or os.environ.get("RUSTUP_TOOLCHAIN") or None
    if name is None and not any((kernel.workdir / f).is_file() for f in TOOLCHAIN_FILES):
        name = DEFAULT_RUSTUP_TOOLCHAIN
    label = f"rustup toolchain {name!r}" if name else "the rustup toolchain of rust-toolchain.toml"
    env = {"RUSTUP_TOOLCHAIN": name} if name else {}
    bin_dir = Path(rustup).parent
    found = probe(str(bin_dir / "rustc"), {**env, "RUSTUP_AUTO_INSTALL": "0"}, kernel.workdir)
    if found is None:
        return None, f"{label} is not installed"
    toolchain = Toolchain.probed(
        "rustup", cargo=str(bin_dir / "cargo"), bin_dir=bin_dir, env=env, found=found
    )
    return toolchain, label


def _debian_candidate(
    kernel: KernelCrate, probe: ProbeFn, which: Callable[[str], str | None]
) -> tuple[Toolchain | None, str]:
    label = "Debian's rust-web"
    rustc, cargo = DEBIAN_BIN / "rustc", DEBIAN_BIN / "cargo"
    if not (rustc.is_file() and cargo.is_file()):
        return None, f"{label} is not installed"
    env = {
        "RUSTC": str(rustc),
        "RUSTDOC": str(DEBIAN_BIN / "rustdoc"),
        "RUSTC_BOOTSTRAP": "1",
        # /usr/bin first: cargo-clippy, cargo-fmt and rustfmt must be Debian's, not
        # rustup's proxies from ~/.cargo/bin (whose toolchain has no rust-src).
        "PATH": os.pathsep.join([str(DEBIAN_BIN), os.environ.get("PATH", "")]),
    }
    found = probe(str(rustc), env, kernel.workdir)
    if found is None:
        return None, f"{label} ({rustc}) does not run"
    toolchain = Toolchain.probed(
        "debian", cargo=str(cargo), bin_dir=DEBIAN_BIN, env=env, found=found
    )
    return toolchain, label


def custom_cargo(which: Callable[[str], str | None] = shutil.which) -> str | None:
    """``$CARGO`` when it names a toolchain of its own: a path (a Makefile's
    ``CARGO ?= cargo`` names no place), and not rustup's proxy (that is the
    rustup toolchain, chosen as such)."""
    cargo = os.environ.get("CARGO", "")
    if os.sep not in cargo:
        return None
    rustup = which("rustup")
    if rustup is not None and Path(cargo).parent.resolve() == Path(rustup).parent.resolve():
        return None
    return cargo


def _custom_candidate(
    kernel: KernelCrate, probe: ProbeFn, which: Callable[[str], str | None]
) -> tuple[Toolchain | None, str]:
    """The toolchain ``$CARGO`` names (with ``$RUSTC``, else the rustc beside it): a
    toolchain in a place of its own.  A stable one gets RUSTC_BOOTSTRAP=1 for -Z."""
    cargo = custom_cargo(which) or ""
    label = f"$CARGO ({cargo})"
    if not cargo:
        return None, "$CARGO is not set"
    if not Path(cargo).is_file():
        return None, f"{label} does not exist"
    rustc = os.environ.get("RUSTC") or str(Path(cargo).with_name("rustc"))
    env = {
        "RUSTC": rustc,
        "RUSTC_BOOTSTRAP": "1",
        # its own cargo-clippy, cargo-fmt and rustfmt before anyone else's
        "PATH": os.pathsep.join([str(Path(cargo).parent), os.environ.get("PATH", "")]),
    }
    found = probe(rustc, env, kernel.workdir)
    if found is None:
        return None, f"{label}: its rustc ({rustc}) does not run"
    toolchain = Toolchain.probed(
        "custom", cargo=cargo, bin_dir=Path(cargo).parent, env=env, found=found
    )
    return toolchain, label


def _unusable(toolchain: Toolchain, profiles: Sequence[Profile]) -> str | None:
    """Why this toolchain cannot build these profiles, or None if it can."""
    needing = [p for p in profiles if needs_build_std(p, toolchain)]
    if not needing:
        return None
    targets = ", ".join(sorted({p.target for p in needing}))
    if not toolchain.has_rust_src:
        missing = toolchain.sysroot / RUST_SRC
        return f"has no rust-src ({missing} missing), needed to build core for {targets}"
    if (
        toolchain.kind == "rustup"
        and not toolchain.nightly
        and os.environ.get("RUSTC_BOOTSTRAP") != "1"
    ):
        return (
            f"is {toolchain.version}, not a nightly; -Z build-std for {targets} needs one "
            "(or RUSTC_BOOTSTRAP=1 in the environment, to use this stable one)"
        )
    if toolchain.kind == "debian" and not toolchain.vendor.is_dir():
        return (
            f"is {toolchain.version}, whose rust-web-src has no vendored dependencies of the "
            f"standard library ({toolchain.vendor} missing); -Z build-std for {targets} needs "
            "them offline: Debian 12's rust-web 1.96 or newer (bookworm-security) has them"
        )
    if toolchain.unstable_flags is not None and "build-std" not in toolchain.unstable_flags:
        return f"is {toolchain.version}, whose cargo does not know -Z build-std ({targets})"
    return None


def detect(
    kernel: KernelCrate,
    profiles: Sequence[Profile],
    *,
    probe: ProbeFn = probe_rustc,
    which: Callable[[str], str | None] = shutil.which,
) -> Toolchain:
    """The toolchain that will run cargo for these profiles, or a SetupError saying
    what to install."""
    order = {"auto": ("rustup", "debian"), "rustup": ("rustup",), "debian": ("debian",)}
    candidates = {
        "custom": _custom_candidate, "rustup": _rustup_candidate, "debian": _debian_candidate,
    }  # fmt: skip
    # $CARGO names a toolchain in a place of its own: it comes first, and only it.
    kinds = ("custom",) if custom_cargo(which) else order[kernel.toolchain]
    reasons = []
    for kind in kinds:
        toolchain, label = candidates[kind](kernel, probe, which)
        if toolchain is None:
            reasons.append(label)
            continue
        why_not = _unusable(toolchain, profiles)
        if why_not is None:
            offline = toolchain.kind == "debian" or (
                toolchain.kind == "custom" and toolchain.vendor.is_dir()
            )
            if offline and any(needs_build_std(p, toolchain) for p in profiles):
                # build-std offline: the standard library's dependencies from Debian's
                # vendored copies, the kernel's from its own configuration.
                args = cargo_sources.offline_source_args(
                    kernel.workdir, _lockfile(kernel), toolchain.vendor
                )
                toolchain = dataclasses.replace(toolchain, config_args=args)
            return toolchain
        reasons.append(f"{label} {why_not}")
    listing = "\n".join(f"  - {r}" for r in reasons)
    hints = {
        "custom": "point $CARGO at a cargo whose toolchain has rust-src, or unset it",
        "rustup": RUSTUP_INSTALL,
        "debian": f"(Debian 12, as root) {DEBIAN_INSTALL}",
    }
    hint = " or ".join(hints[k] for k in kinds)
    raise SetupError(
        f"no usable Rust toolchain for kernel.toolchain = {kernel.toolchain!r}:\n{listing}",
        hint=f"install one: {hint}",
    )


def _lockfile(kernel: KernelCrate) -> Path:
    """The kernel's Cargo.lock: beside its manifest, or at its workspace's root above."""
    for folder in (kernel.crate_dir, *kernel.crate_dir.parents):
        if (folder / "Cargo.lock").is_file():
            return folder / "Cargo.lock"
    return kernel.crate_dir / "Cargo.lock"


def ensure_debian_rust() -> None:
    """Debian's Rust toolchain with the standard library's sources, for the cargo sessions.

    Called when no usable toolchain was found: installs the rust-web packages,
    or upgrades them when the installed ones are too old (``apt-get install``
    takes the candidate, which must be at least ``packages.RUST_MINIMUM``; stale
    package lists are refreshed first).  A SetupError with the commands to run
    when this cannot be done here.
    """
    apt.install(list(packages.RUST), minimum=dict.fromkeys(packages.RUST, packages.RUST_MINIMUM))


def resolve(config: Config, profiles: Sequence[Profile] | None = None) -> Toolchain:
    """``detect``, installing Debian's toolchain first when that is allowed and needed."""
    selected = list(profiles) if profiles is not None else list(config.profiles)
    try:
        return detect(config.kernel, selected)
    except SetupError as first:
        if config.kernel.toolchain == "rustup" or custom_cargo():
            raise
        try:
            ensure_debian_rust()
        except SetupError as second:
            # Both halves matter: why no toolchain works, and why installing one did not.
            raise SetupError(
                f"{first.message}\nand Debian's toolchain could not be installed: {second.message}",
                hint=second.hint or first.hint,
            ) from None
        return detect(config.kernel, selected)


def require_component(toolchain: Toolchain, program: str, component: str) -> None:
    """A SetupError naming the install command when ``cargo-clippy``/``cargo-fmt`` is missing."""
    folder = toolchain.sysroot / "bin" if toolchain.kind == "rustup" else toolchain.bin_dir
    if not (folder / program).is_file():
        raise SetupError(
            f"{component} is not installed for {toolchain.describe()} ({folder / program} missing)",
            hint=toolchain.install_hint(component),
        )
