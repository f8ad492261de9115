"""The nox sessions are the config's profile matrix, and `make` reaches them."""

from __future__ import annotations

import json
import os
import runpy
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nox
import nox.registry
import pytest

from ci_tools import config, sessions
from ci_tools.cli import build_parser
from ci_tools.cli import history as cli_history

from conftest import FIXTURES, REPO, write_config

FIXED = ["setup", "bench-linux", "bench-host"]


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """A private nox registry and default selection, so register() can run more than once."""
    fresh: dict[str, Any] = {}
    monkeypatch.setattr(nox.registry, "_REGISTRY", fresh)
    for option in ("sessions", "keywords", "tags"):
        monkeypatch.setattr(nox.options, option, None)
    yield fresh


def _matrix(profiles: tuple[str, ...]) -> set[str]:
    return {f"check-{p}" for p in profiles} | {f"bench-{p}" for p in profiles} | {
        "clippy", "fmt", "bench-all"
    }  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [REPO / "ci_tools.toml", FIXTURES / "config" / "kernel-guest.toml"],
    ids=lambda p: p.name,
)
def test_sessions_are_the_profiles_of_the_config(path: Path, registry: dict[str, Any]) -> None:
    sessions.register(path)
    profiles = config.load(path).profile_names
    generated = set(registry) - set(FIXED)
    assert generated - {"compare", "history"} == _matrix(profiles)
    for name, func in registry.items():
        assert func.func.__doc__, f"session {name} has no description"
        assert func.python is False, f"session {name} would create a virtualenv"


def test_a_bare_nox_runs_the_cheap_sessions(registry: dict[str, Any]) -> None:
    """Not setup (apt-get as root) nor a benchmark; ci_tools' own sessions are not here."""
    sessions.register(REPO / "ci_tools.toml")
    assert nox.options.sessions == [
        "check-fortress", "check-balanced", "check-performance", "check-ludicrous",
        "clippy", "fmt",
    ]  # fmt: skip
    assert not {"tests", "lint"} & set(registry)


def test_the_noxfiles_own_default_is_kept(
    registry: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(nox.options, "sessions", ["fmt"])
    sessions.register(REPO / "ci_tools.toml")
    assert nox.options.sessions == ["fmt"]
    registry.clear()
    monkeypatch.setattr(nox.options, "sessions", None)
    monkeypatch.setattr(nox.options, "tags", ["check"])
    sessions.register(FIXTURES / "config" / "kernel-guest.toml")
    assert nox.options.sessions is None


def _nox_list(folder: Path, *args: str) -> list[str]:
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--json", *args],
        cwd=folder, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [e["session"] for e in json.loads(listed)]


def test_nox_in_a_kernel_repository(tmp_path: Path) -> None:
    """The README's two-line noxfile: no ci_tools tests or lint; a bare nox is cheap."""
    cfg = FIXTURES / "config" / "kernel-guest.toml"
    (tmp_path / "noxfile.py").write_text(
        f"from ci_tools import sessions\nsessions.register({str(cfg)!r})\n"
    )
    every = _nox_list(tmp_path, "-k", "")
    assert not {"tests", "lint"} & set(every)
    assert set(every) - set(FIXED) - {"compare", "history"} == _matrix(("fortress", "ludicrous"))
    assert _nox_list(tmp_path) == ["check-fortress", "check-ludicrous", "clippy", "fmt"]


def test_check_sessions_run_the_check_command(registry: dict[str, Any]) -> None:
    sessions.register(REPO / "ci_tools.toml")
    session = FakeSession()
    registry["check-ludicrous"].func(session)
    assert session.commands == [
        ["-m", "ci_tools", "check", "--config", str(REPO / "ci_tools.toml"), "ludicrous"]
    ]


class FakeSession:
    def __init__(self, posargs: tuple[str, ...] = ()) -> None:
        self.posargs = list(posargs)
        self.commands: list[list[str]] = []

    def run(self, program: str, *args: str, external: bool = False) -> None:
        assert program == sys.executable and external
        if args[:2] == ("-m", "ci_tools"):
            # As `python -m ci_tools` would read it: a command it refuses fails here.
            build_parser().parse_args(cli_history.with_default_action(list(args[2:])))
        self.commands.append(list(args))


@pytest.mark.parametrize("posargs", [(), ("--quick", "--boots", "3")])
def test_every_session_runs_commands_the_real_command_line_accepts(
    registry: dict[str, Any], posargs: tuple[str, ...]
) -> None:
    sessions.register(REPO / "ci_tools.toml")
    takes = {"compare": ("base.json", "head.json"), "history": ("results/",),
             "bench-host": posargs[:1]}  # fmt: skip
    for name, entry in registry.items():
        no_args = name.startswith(("check-", "clippy", "fmt")) or name == "setup"
        session = FakeSession(posargs=() if no_args else takes.get(name, posargs))
        entry.func(session)  # FakeSession parses each command
        assert session.commands, name
    bench = FakeSession(posargs=posargs)
    registry["bench-balanced"].func(bench)
    args = build_parser().parse_args(bench.commands[0][2:])
    assert (args.command, args.target, args.name) == ("bench", "profile", "balanced")
    assert args.config == REPO / "ci_tools.toml"
    assert args.boots == (3 if posargs else 1) and args.quick is (True if posargs else None)


def test_bench_all_runs_every_profile_then_the_cost_table(registry: dict[str, Any]) -> None:
    """The demo's profiles run the kernel's built-in bench: no Linux boot whose figures
    share no benchmark with them; the profiles are set against each other."""
    sessions.register(REPO / "ci_tools.toml")
    session = FakeSession(posargs=("--quick",))
    registry["bench-all"].func(session)
    cfg = str(REPO / "ci_tools.toml")
    out = sessions.BENCH_ALL_DIR
    profiles = ("fortress", "balanced", "performance", "ludicrous")
    assert session.commands[:4] == [
        ["-m", "ci_tools", "bench", "profile", p, "--config", cfg, "--output", f"{out}/{p}.json",
         "--quick"]
        for p in profiles
    ]  # fmt: skip
    assert session.commands[4] == [
        "-m", "ci_tools", "cost", *(f"{out}/{p}.json" for p in profiles),
        "--markdown", f"{out}/cost.md",
    ]  # fmt: skip
    assert len(session.commands) == 5
    # Every command is one the real command line accepts.
    for command in session.commands:
        build_parser().parse_args(command[2:])


def test_history_session_reads_the_folders_it_is_given(registry: dict[str, Any]) -> None:
    """`nox -s history -- results/ --html report.html`: the default action, `history report`."""
    sessions.register(REPO / "ci_tools.toml")
    session = FakeSession(posargs=("results/", "--html", "report.html"))
    registry["history"].func(session)
    assert session.commands == [["-m", "ci_tools", "history", "results/", "--html", "report.html"]]
    args = build_parser().parse_args(cli_history.with_default_action(session.commands[0][2:]))
    assert args.action == "report" and args.paths == [Path("results/")]


def test_bench_all_boots_the_linux_reference_when_it_runs_the_same_bench(
    registry: dict[str, Any], tmp_path: Path
) -> None:
    """Profiles booting the Linux guest with safety settings (bench.c): Linux first."""
    path = write_config(
        tmp_path,
        '[bench]\nguest = "linux"\n[profiles.fortress]\ntarget = "t"\nfeatures = []\n'
        'bench = { cmdline_extra = "init_on_free=1" }\n',
    )
    sessions.register(path)
    session = FakeSession(posargs=("--quick",))
    registry["bench-all"].func(session)
    out = sessions.BENCH_ALL_DIR
    assert session.commands[0][:6] == ["-m", "ci_tools", "bench", "linux", "--config", str(path)]
    assert f"{out}/linux.json" in session.commands[0]
    assert session.commands[-1][2:5] == ["cost", "--reference", f"{out}/linux.json"]
    for command in session.commands:
        build_parser().parse_args(command[2:])


def test_nox_lists_the_matrix() -> None:
    """`nox -l` in this repository: acceptance's session list, with descriptions."""
    listed = subprocess.run(
        [sys.executable, "-m", "nox", "--list", "--json", "-k", ""],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    entries = {e["session"]: e for e in json.loads(listed)}
    profiles = config.load(REPO / "ci_tools.toml").profile_names
    assert _matrix(profiles) | {"bench-linux", "bench-host", "tests", "lint"} <= set(entries)
    assert all(e["description"] for e in entries.values())
    assert _nox_list(REPO) == ["tests", "lint"]  # this repository's own default


def test_tests_and_lint_sessions_of_this_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """`./nox -s tests` and `./nox -s lint`, as the README and ci.yml run them."""
    fresh: dict[str, Any] = {}
    monkeypatch.setattr(nox.registry, "_REGISTRY", fresh)
    for option in ("sessions", "keywords", "tags", "default_venv_backend"):
        monkeypatch.setattr(nox.options, option, getattr(nox.options, option))
    monkeypatch.chdir(REPO)
    runpy.run_path(str(REPO / "noxfile.py"))
    session = FakeSession(posargs=("-m", "not integration"))
    fresh["tests"].func(session)
    assert session.commands == [
        ["-m", "ci_tools", "setup", "--tests"], ["-m", "pytest", "-m", "not integration"]
    ]  # fmt: skip
    session = FakeSession()
    fresh["lint"].func(session)
    code = ["ci_tools", "tests", "benchmarks", "noxfile.py"]
    assert session.commands == [
        ["-m", "ruff", "check", *code], ["-m", "ruff", "format", "--check", *code], ["-m", "mypy"]
    ]  # fmt: skip


MAKE_CASES = [
    ("check PROFILE=fortress", "--session check-fortress"),
    ("check", "--tags check"),
    ("clippy", "--session clippy"),
    ("fmt", "--session fmt"),
    ("bench PROFILE=balanced", "--session bench-balanced"),
    ("bench PROFILE=balanced BENCH_ARGS=--quick", "--session bench-balanced -- --quick"),
    ("bench-all", "--session bench-all"),
    ("bench-compare BENCH_FILES='a.json b.json'", "--session compare -- a.json b.json"),
]


@pytest.mark.parametrize(("goal", "expected"), MAKE_CASES, ids=[c[0] for c in MAKE_CASES])
def test_makefile_fragment_runs_the_sessions(goal: str, expected: str) -> None:
    command = ["make", "-s", "-n", "-f", "ci_tools.mk", *shlex.split(goal)]
    printed = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed == f"python3 -m nox --noxfile noxfile.py {expected}"


def test_makefile_bench_without_profile_fails() -> None:
    done = subprocess.run(
        ["make", "-s", "-n", "-f", "ci_tools.mk", "bench"], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode != 0 and "PROFILE=<profile>" in done.stderr


# A kernel Makefile as Kevlar's: a default profile and rules of its own.
KERNEL_MAKEFILE = """\
PROFILE ?= balanced
{before}include {mk}

check:
\t@echo the kernel's own check of $(PROFILE)
"""


def _make(folder: Path, *goal: str, env: dict[str, str] | None = None) -> tuple[str, str]:
    done = subprocess.run(
        ["make", "-s", "-n", *goal], cwd=folder, capture_output=True, text=True, check=True,
        env={"PATH": os.environ["PATH"], **(env or {})},
    )  # fmt: skip
    return done.stdout.strip(), done.stderr


def test_makefile_with_its_own_rules_and_default_profile(tmp_path: Path) -> None:
    """Kevlar: `PROFILE ?= balanced` and its own `check:`; the prefix keeps both apart."""
    makefile = KERNEL_MAKEFILE.format(
        before="CI_TOOLS_MAKE_PREFIX := ci-\n", mk=REPO / "ci_tools.mk"
    )
    (tmp_path / "Makefile").write_text(makefile)
    nox_ = "python3 -m nox --noxfile noxfile.py"
    printed, warnings = _make(tmp_path, "ci-check")
    assert (printed, warnings) == (f"{nox_} --tags check", "")  # every profile
    assert _make(tmp_path, "ci-clippy") == (f"{nox_} --session clippy", "")
    assert _make(tmp_path, "check") == ("echo the kernel's own check of balanced", "")
    asked = f"{nox_} --session check-fortress"
    assert _make(tmp_path, "ci-check", "PROFILE=fortress") == (asked, "")
    assert _make(tmp_path, "ci-check", env={"PROFILE": "fortress"}) == (asked, "")
    assert _make(tmp_path, "ci-check", "CI_TOOLS_PROFILE=fortress") == (asked, "")
    # bench needs one profile: the Makefile's default is that one
    assert _make(tmp_path, "ci-bench") == (f"{nox_} --session bench-balanced", "")


def test_makefile_default_profile_without_a_prefix_checks_every_profile(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(f"PROFILE ?= balanced\ninclude {REPO / 'ci_tools.mk'}\n")
    nox_ = "python3 -m nox --noxfile noxfile.py"
    assert _make(tmp_path, "check") == (f"{nox_} --tags check", "")
    assert _make(tmp_path, "clippy") == (f"{nox_} --session clippy", "")
    assert _make(tmp_path, "check", "PROFILE=fortress") == (f"{nox_} --session check-fortress", "")


def test_makefile_without_a_prefix_warns_about_a_rule_kept(tmp_path: Path) -> None:
    """What the README's adoption step says: remove your rule, or set the prefix."""
    (tmp_path / "Makefile").write_text(KERNEL_MAKEFILE.format(before="", mk=REPO / "ci_tools.mk"))
    assert "overriding recipe for target 'check'" in _make(tmp_path, "fmt")[1]
