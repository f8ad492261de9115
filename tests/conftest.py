"""Shared fixtures and builders (every test folder uses these; no test module
imports another).  Unit tests carry a tripwire: starting QEMU or cargo from a
test not marked ``integration`` fails loudly instead of silently taking a minute."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pexpect
import pytest

from ci_tools.build.toolchain import RUST_SRC, Toolchain
from ci_tools.results import store
from ci_tools.results.model import Result

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent
_EXPENSIVE = ("qemu-system", "cargo", "rustc", "musl-gcc")


def _guard(argv: object) -> None:
    text = " ".join(map(str, argv)) if isinstance(argv, (list, tuple)) else str(argv)
    first = text.split(" ", 1)[0]
    if any(name in os.path.basename(first) for name in _EXPENSIVE):
        raise AssertionError(
            f"unit test tried to run {first!r}: mark the test @pytest.mark.integration"
        )


@pytest.fixture(autouse=True)
def tripwire(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if request.node.get_closest_marker("integration") is None:
        real_popen_init = subprocess.Popen.__init__
        real_spawn_init = pexpect.spawn.__init__

        def popen_init(
            self: subprocess.Popen[bytes], args: object, *a: object, **k: object
        ) -> None:
            _guard(args)
            real_popen_init(self, args, *a, **k)  # type: ignore[arg-type]

        def spawn_init(self: pexpect.spawn, command: str, *a: object, **k: object) -> None:
            _guard(command)
            real_spawn_init(self, command, *a, **k)

        monkeypatch.setattr(subprocess.Popen, "__init__", popen_init)
        monkeypatch.setattr(pexpect.spawn, "__init__", spawn_init)
    yield


@pytest.fixture(autouse=True)
def no_custom_toolchain(monkeypatch: pytest.MonkeyPatch) -> None:
    """A $CARGO from the caller's shell (cargo sets it for what it runs) would pick
    the toolchain for every test; the tests that want one set it themselves."""
    monkeypatch.delenv("CARGO", raising=False)


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ci_tools cache (the real one is shared with the user's runs)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("CI_TOOLS_CACHE", str(cache))
    return cache


@pytest.fixture
def github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A GitHub Actions step: annotations counted afresh, an empty job summary file."""
    from ci_tools import output

    summary = tmp_path / "summary.md"
    summary.write_text("")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setattr(output, "_annotation_counts", {"error": 0, "warning": 0, "notice": 0})
    return summary


def write_config(folder: Path, body: str) -> Path:
    """A ci_tools.toml for a one-line crate in ``folder``, with ``body`` after [kernel]."""
    (folder / "Cargo.toml").write_text('[package]\nname = "k"\nversion = "0.0.0"\n')
    path = folder / "ci_tools.toml"
    path.write_text('[kernel]\ncrate = "."\n' + body)
    return path


def at_once(
    code: str, argvs: Sequence[Sequence[str]], *, env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> list[subprocess.CompletedProcess[str]]:  # fmt: skip
    """``python -c code`` started once per argument list, all at once, run to the end."""
    full_env = None if env is None else {**os.environ, **env}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *argv], env=full_env, cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for argv in argvs
    ]  # fmt: skip
    done = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(run.args, run.returncode, out, err))
    return done


class Child:
    """Another ci_tools process, for tests of what processes share: it runs ``code``
    (which prints ``ready`` once it holds what it should), then waits until
    ``finish`` (its stdin closed) or ``kill`` (SIGKILL: it cannot clean up)."""

    def __init__(self, code: str, env: Mapping[str, str] | None = None) -> None:
        wait = "\nimport sys as _s\n_s.stdin.read()\n"
        # -u: its "ready" must not wait in a buffer (CI sets no PYTHONUNBUFFERED)
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", code + wait], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=None if env is None else {**os.environ, **env},
        )  # fmt: skip
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line != "ready\n":
            raise AssertionError(f"child did not get ready: {line}{self.process.stderr.read()}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def finish(self) -> str:
        """Let it end; its stderr."""
        _, err = self.process.communicate(timeout=60)
        assert self.process.returncode == 0, err
        return err

    def kill(self) -> None:
        self.process.kill()
        self.process.communicate(timeout=60)


# --------------------------------------------------------------------------
# Result files with known samples, for compare and its tables.
# Real fixture files whose samples are replaced by known distributions, so
# everything but the numbers is what ``bench linux`` writes.

TEMPLATE = FIXTURES / "results" / "linux-det-8boots-a.json"


def make(
    values: Mapping[str, Sequence[float]],
    *,
    name: str = "r.json",
    setup: Mapping[str, Any] | None = None,
    skipped: Sequence[tuple[str, int, str]] = (),
    status: Mapping[str, Any] | None = None,
    rounds: int = 1,
) -> Result:
    """A schema-valid result with the given per-boot values (ns per iteration)."""
    doc: dict[str, Any] = copy.deepcopy(json.loads(TEMPLATE.read_text()))
    boots = max(len(v) for v in values.values()) if values else 1
    record = doc["boots"][0]
    doc["boots"] = [dict(record, index=i) for i in range(boots)]
    doc["setup"].update({"boots": boots, "rounds": rounds, **(setup or {})})
    doc["benchmarks"] = {}
    for bench, per_boot in values.items():
        samples = []
        for boot, v in enumerate(per_boot):
            for rnd in range(1, rounds + 1):
                total = round(v * 10_000)
                samples.append({"boot": boot, "round": rnd, "iterations": 10_000,
                                "total_ns": total, "per_iter_ns": total // 10_000})  # fmt: skip
        doc["benchmarks"][bench] = {"samples": samples}
    doc["skipped"] = [{"name": n, "boot": b, "round": 1, "reason": r} for n, b, r in skipped]
    doc["extras"] = {}
    if status:
        doc["status"] = dict(status)
    store.validate(doc, source=name)
    return Result(doc, Path(name))


def noisy(rng: np.random.Generator, n: int, center: float, sigma: float) -> list[float]:
    return list(center * np.exp(rng.normal(0.0, sigma, n)))


def bimodal(rng: np.random.Generator, n: int, scale: float = 1.0) -> list[float]:
    """pipe under -icount: 3345 or 3720 ns depending on the boot's layout."""
    layout = rng.random(n) < 0.5
    return list(np.where(layout, 3345.0, 3720.0) * scale * np.exp(rng.normal(0, 0.001, n)))


def suite(
    rng: np.random.Generator, n: int, slow: Mapping[str, float] | None = None
) -> dict[str, list[float]]:
    """Eight benchmarks shaped like the deterministic-mode measurements of MACHINE.md."""
    s = dict(slow or {})
    return {
        "getpid": noisy(rng, n, 345 * s.get("getpid", 1), 0.0005),
        "read_null": noisy(rng, n, 626 * s.get("read_null", 1), 0.0005),
        "write_null": noisy(rng, n, 621 * s.get("write_null", 1), 0.0005),
        "pipe": bimodal(rng, n, s.get("pipe", 1)),
        "fork_exit": noisy(rng, n, 114_500 * s.get("fork_exit", 1), 0.007),
        "open_close": noisy(rng, n, 7131 * s.get("open_close", 1), 0.007),
        "mmap_fault": noisy(rng, n, 4000 * s.get("mmap_fault", 1), 0.06),
        "stat": noisy(rng, n, 4091 * s.get("stat", 1), 0.0005),
    }


# --------------------------------------------------------------------------
# Rust toolchains, for the cargo command builder and toolchain detection.

VENDOR_ARGS = (
    "--config",
    'source.crates-io.replace-with="ci-tools-offline"',
    "--config",
    'source.ci-tools-offline.directory="/usr/lib/rustlib/src/rust/library/vendor"',
)
# The -Z flags that matter here, as cargo 1.96's `cargo -Z help` lists them.
CURRENT_FLAGS = frozenset({"build-std", "json-target-spec"})


def fake_sysroot(
    tmp_path: Path, *, rust_src: bool, targets: tuple[str, ...] = (), vendor: bool = False
) -> Path:
    """A Rust sysroot with or without rust-src (and Debian's vendored std dependencies)
    and the standard library of ``targets``."""
    root = tmp_path / f"sysroot-{rust_src}-{len(targets)}-{vendor}"
    if rust_src:
        (root / RUST_SRC / "core").mkdir(parents=True)
        (root / RUST_SRC / "core" / "Cargo.toml").write_text("")
    if vendor:
        (root / RUST_SRC / "vendor").mkdir(parents=True)
    for triple in targets:
        (root / "lib" / "rustlib" / triple / "lib").mkdir(parents=True)
    root.mkdir(exist_ok=True)
    return root


def debian_toolchain() -> Toolchain:
    """Debian's rust-web as detection finds it (vendored std sources)."""
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
