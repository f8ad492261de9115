"""ci_tools.toml: the schema, every error at once, did-you-mean, the parsed matrix."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ci_tools import config
from ci_tools.bench import run
from ci_tools.errors import BadInputError

from conftest import FIXTURES, REPO, write_config

CONFIGS = FIXTURES / "config"
SCHEMA = REPO / "schemas" / "config-v1.schema.json"


def _problems(path: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(BadInputError) as caught:
        config.load(path, **kwargs)
    return [line[4:] for line in caught.value.message.splitlines() if line.startswith("  - ")]


def test_schema_is_valid_against_its_meta_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(json.loads(SCHEMA.read_text()))


def test_repository_config_drives_the_demo_crate() -> None:
    loaded = config.load(REPO / "ci_tools.toml")
    assert loaded.profile_names == ("fortress", "balanced", "performance", "ludicrous")
    assert loaded.kernel.crate_dir == REPO / "examples" / "kernel"
    specs = {p.name: p.target for p in loaded.profiles}
    # Laid out as in Kevlar: unwind spec for the safe profiles, abort for the fast ones.
    assert specs["fortress"] == specs["balanced"] == "arch/x64/x64-unwind.json"
    assert specs["performance"] == specs["ludicrous"] == "arch/x64/x64.json"
    for p in loaded.profiles:
        assert p.features == (f"profile-{p.name}",)
        # Each profile's bench builds the demo kernel with its flags and boots it.
        assert p.bench is not None and p.bench.guest == "kernel" and p.bench.suite == "kernel"
        assert p.bench.build is not None and p.bench.build.cargo and p.bench.build.release
        assert p.bench.args == "cmdline" and p.bench.exit_device is not None
    assert loaded.profile("fortress").rustflags == ("-C", "overflow-checks=on")
    assert loaded.clippy.profiles == loaded.profile_names and loaded.clippy.deny_warnings


def test_demo_crate_declares_the_profile_features() -> None:
    manifest = (REPO / "examples" / "kernel" / "Cargo.toml").read_text()
    for name in config.load(REPO / "ci_tools.toml").profile_names:
        assert f"profile-{name} = []" in manifest


def test_kevlar_example_is_valid() -> None:
    kevlar = config.load(REPO / "examples" / "kevlar" / "ci_tools.toml", check_paths=False)
    assert kevlar.profile_names == ("fortress", "balanced", "performance", "ludicrous")
    assert kevlar.kernel.workdir == REPO / "examples" / "kevlar"  # cargo runs at its root
    assert kevlar.kernel.manifest == REPO / "examples" / "kevlar" / "kernel" / "Cargo.toml"
    fortress = kevlar.profile("fortress")
    assert fortress.target == "kernel/arch/x64/x64-unwind.json"
    # Kevlar's Makefile builds every x64 profile with the unwind spec: so is each checked.
    assert {p.target for p in kevlar.profiles} == {"kernel/arch/x64/x64-unwind.json"}
    assert kevlar.kernel.env == {"INITRAMFS_PATH": "build/dummy-for-lint.initramfs"}
    assert fortress.bench is not None and fortress.bench.build is not None
    assert fortress.bench.guest == "kernel"
    assert fortress.bench.build.command == ("make", "build", "PROFILE=fortress")
    assert fortress.bench.build.env == {"INIT_SCRIPT": "/bin/bench"}
    assert fortress.bench.image == REPO / "examples" / "kevlar" / "kevlar.x64.elf"
    assert fortress.bench.cmdline == ""  # set, and empty: not ci_tools' Linux default
    # Booted as tools/run-qemu.py boots it.
    assert (fortress.bench.boot, fortress.bench.cpu, fortress.bench.memory_mb) == (
        "multiboot-elf64", "Icelake-Server", 1024,
    )  # fmt: skip
    assert fortress.bench.exit_device == config.ExitDevice(iobase=0x501, iosize=2, success=33)
    assert (fortress.bench.suite, fortress.bench.args) == ("kernel", "none")
    assert kevlar.clippy.profiles == ("balanced",)


def test_kevlar_example_without_its_checkout_names_the_missing_files() -> None:
    problems = _problems(REPO / "examples" / "kevlar" / "ci_tools.toml")
    assert any(p.startswith("kernel.crate:") for p in problems)


def test_every_error_is_reported_at_once() -> None:
    problems = _problems(CONFIGS / "many-errors.toml")
    expected = [
        "kernel.toolchian: unknown key (did you mean 'toolchain'?)",
        "clippy.profiles: 'fortres' is not a profile (did you mean 'fortress'?)",
        "clippy.deny_warnings: 'yes' is not of type 'boolean'",
        "profiles.fortress.tagret: unknown key (did you mean 'target'?)",
        "profiles.fortress: 'target' is a required property",
        "profiles.ludicrous.features: 'profile-ludicrous' is not of type 'array'",
        'profiles.ludicrous.bench: guest = "kernel" needs image = "path of the built kernel"',
    ]
    for line in expected:
        assert line in problems
    assert any(p.startswith("profiles: invalid profile name 'all'") for p in problems)
    assert len(problems) == len(expected) + 1


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ci_tools.toml"
    path.write_text('[kernel]\ncrate = "."\n[profiles.x\n')
    with pytest.raises(BadInputError, match="line 3"):
        config.load(path)


def test_missing_file_says_how_to_start(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist") as caught:
        config.load(tmp_path / "ci_tools.toml")
    assert caught.value.hint and "--config" in caught.value.hint


def test_unknown_profile_gets_a_suggestion() -> None:
    loaded = config.load(REPO / "ci_tools.toml")
    with pytest.raises(BadInputError, match="did you mean 'ludicrous'"):
        loaded.profile("ludicrus")


def test_minimal_config_defaults() -> None:
    loaded = config.load(CONFIGS / "minimal.toml")
    assert loaded.kernel.toolchain == "auto"
    assert loaded.kernel.build_std == ("core", "alloc")
    assert loaded.kernel.workdir == loaded.kernel.crate_dir == CONFIGS
    assert loaded.clippy.profiles == ("only",) and loaded.clippy.deny_warnings
    assert loaded.profile("only").bench is None
    assert loaded.compare.min_effect_for("getpid") is None
    assert loaded.linux.cmdline == run.DEFAULT_CMDLINE == config.DEFAULT_CMDLINE


def test_bench_defaults_merge_and_profile_placeholder() -> None:
    loaded = config.load(CONFIGS / "kernel-guest.toml")
    fortress = loaded.profile("fortress").bench
    assert fortress is not None and fortress.build is not None
    assert fortress.guest == "kernel" and fortress.machine == "q35"
    assert fortress.cmdline_extra == "debug"
    assert fortress.build.command == ("make", "build", "PROFILE=fortress")
    assert fortress.build.env == {"INIT_SCRIPT": "/bin/bench", "LOG": "fortress"}
    assert fortress.image == CONFIGS / "build" / "fortress" / "kernel.elf"
    ludicrous = loaded.profile("ludicrous").bench
    assert ludicrous is not None and ludicrous.build is not None
    assert ludicrous.machine == "pc"  # the profile's own value wins
    assert ludicrous.build.cargo and ludicrous.build.release and ludicrous.build.command is None
    assert ludicrous.image == CONFIGS / "build" / "ludicrous" / "kernel.elf"


def test_min_effect_per_benchmark_with_default(tmp_path: Path) -> None:
    body = (
        '[profiles.a]\ntarget = "x86_64-unknown-none"\nfeatures = []\n'
        "[compare]\nmin_effect = { default = 0.03, mmap_fault = 0.10 }\n"
    )
    loaded = config.load(write_config(tmp_path, body), check_paths=False)
    assert loaded.compare.min_effect_for("mmap_fault") == pytest.approx(0.10)
    assert loaded.compare.min_effect_for("getpid") == pytest.approx(0.03)
    # The repository's own config leaves every threshold to compare's noise estimate.
    assert config.load(REPO / "ci_tools.toml").compare.min_effect_for("getpid") is None


def test_target_spec_must_exist_relative_to_workdir(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[profiles.a]\ntarget = "arch/x64.json"\nfeatures = []\n')
    problems = _problems(path)
    assert problems == [
        f"profiles.a.target: target spec {tmp_path / 'arch/x64.json'} does not exist "
        "(target spec paths are relative to kernel.workdir)"
    ]
    (tmp_path / "arch").mkdir()
    (tmp_path / "arch" / "x64.json").write_text("{}")
    assert config.load(path).profile("a").target_is_spec


def test_build_needs_exactly_one_way(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[profiles.a]\ntarget = "t"\nfeatures = []\n'
        '[profiles.a.bench]\nguest = "kernel"\nimage = "k"\n'
        'build = { command = ["make"], cargo = true }\n',
    )
    assert _problems(path) == [
        "profiles.a.bench.build: give exactly one of `command = [...]` or `cargo = true`"
    ]


def test_linux_guest_refuses_a_kernel_build(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[profiles.a]\ntarget = "t"\nfeatures = []\n'
        '[profiles.a.bench]\nguest = "linux"\nimage = "k"\n',
    )
    (problem,) = _problems(path)
    assert problem.startswith(
        'profiles.a.bench: build and image have no effect with guest = "linux"'
    )


def test_boot_settings_that_cannot_work_are_named(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[profiles.a]\ntarget = "t"\nfeatures = []\n'
        '[profiles.a.bench]\nguest = "linux"\nsuite = "kernel"\n'
        '[profiles.b]\ntarget = "t"\nfeatures = []\n'
        '[profiles.b.bench]\nguest = "kernel"\nargs = "init"\n'
        'build = { cargo = true, env = { INIT_SCRIPT = "/bin/bench" } }\n'
        '[profiles.c]\ntarget = "t"\nfeatures = []\n'
        '[profiles.c.bench]\nguest = "kernel"\nimage = "k"\nexit_device = { iobase = 0xf4, '
        "iosize = 3 }\nmemroy = 64\n",
    )
    problems = _problems(path)
    assert any('profiles.a.bench: suite = "kernel" needs guest = "kernel"' in p for p in problems)
    assert any(p.startswith("profiles.b.bench.args: 'init' is not one of") for p in problems)
    assert any(
        "profiles.c.bench.memroy: unknown key (did you mean 'memory'?)" in p for p in problems
    )
    assert any("iosize" in p for p in problems)


def test_args_from_the_build_need_a_place_in_its_env(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[profiles.b]\ntarget = "t"\nfeatures = []\n'
        '[profiles.b.bench]\nguest = "kernel"\nargs = "build"\nsuite = "kernel"\n'
        'build = { cargo = true, env = { INIT_SCRIPT = "/bin/bench" } }\n',
    )
    (problem,) = _problems(path)
    assert 'args = "build" needs {bench_args} in a build env value' in problem


def test_problem_of_the_bench_defaults_is_reported_once(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[bench]\ncmdline = "x"\n'
        '[profiles.a]\ntarget = "t"\nfeatures = []\n'
        '[profiles.b]\ntarget = "t"\nfeatures = []\n',
    )
    assert _problems(path) == [
        'bench: no guest: set guest = "linux" or "kernel" (here or in [bench])'
    ]


def test_environment_variable_names_are_checked(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[profiles.a]\ntarget = "t"\nfeatures = []\n'
        '[profiles.a.bench]\nguest = "kernel"\nimage = "k"\n'
        'build = { cargo = true, env = { "INIT SCRIPT" = "/bin/bench" } }\n',
    )
    (problem,) = _problems(path)
    assert problem.startswith("profiles.a.bench.build.env: invalid name 'INIT SCRIPT'")


def test_config_path_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(config.ENV_VAR, str(CONFIGS / "minimal.toml"))
    assert config.load().profile_names == ("only",)


def test_features_must_exist_in_the_crate(tmp_path: Path) -> None:
    (tmp_path / "Cargo.toml").write_text(
        '[package]\nname = "k"\nversion = "0.0.0"\n'
        "[features]\nprofile-ludicrous = []\n"
        '[dependencies]\nunwinding = { version = "0.2", optional = true }\n'
    )
    path = tmp_path / "ci_tools.toml"
    path.write_text(
        '[kernel]\ncrate = "."\n[profiles.ludicrous]\ntarget = "t"\n'
        'features = ["profile-ludicrus", "unwinding", "dep/feature"]\n'
    )
    assert _problems(path) == [
        "profiles.ludicrous.features: 'profile-ludicrus' is not a feature of the kernel crate "
        "(did you mean 'profile-ludicrous'?)"
    ]


def test_gate_section_defaults_and_values(tmp_path: Path) -> None:
    assert config.load(CONFIGS / "minimal.toml").gate == config.GateConfig()
    assert config.GateConfig().inconclusive == "fail"
    path = write_config(
        tmp_path,
        '[profiles.a]\ntarget = "x86_64-unknown-none"\nfeatures = []\n'
        '[gate]\nmin_boots = 10\nmax_boots = 30\ninconclusive = "warn"\n',
    )
    gate = config.load(path, check_paths=False).gate
    assert (gate.min_boots, gate.max_boots, gate.inconclusive) == (10, 30, "warn")


def test_gate_section_mistakes_are_named(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        '[profiles.a]\ntarget = "x86_64-unknown-none"\nfeatures = []\n'
        '[gate]\nmin_boots = 20\nmax_boots = 10\ninconclusive = "pass"\nmax_boot = 3\n',
    )
    problems = _problems(path)
    assert "gate: min_boots (20) is above max_boots (10): the budget must allow the first look" in (
        problems
    )
    assert any(p.startswith("gate.inconclusive: 'pass' is not one of") for p in problems)
    assert "gate.max_boot: unknown key (did you mean 'max_boots'?)" in problems


def _refusal(path: Path) -> tuple[str, str | None]:
    with pytest.raises(BadInputError) as caught:
        config.load(path)
    return caught.value.message.replace(str(path.parent), "<dir>"), caught.value.hint


HINT = "see schemas/config-v1.schema.json for every key and what it means"


def test_each_semantic_problem_reads_in_full(tmp_path: Path) -> None:
    profile = '[profiles.a]\ntarget = "t"\nfeatures = []\n'
    cases = {
        'guest = "linux"\nimage = "k"': 'profiles.a.bench: build and image have no effect with '
        'guest = "linux" (the reference Linux kernel is booted); remove them or use '
        'guest = "kernel"',
        'guest = "linux"\nbuild = { cargo = true }': 'profiles.a.bench: build and image have no '
        'effect with guest = "linux" (the reference Linux kernel is booted); remove them or use '
        'guest = "kernel"',
        'guest = "linux"\nsuite = "kernel"': 'profiles.a.bench: suite = "kernel" needs guest = '
        '"kernel": the reference Linux guest has no bench of its own',
        'guest = "kernel"\nargs = "build"\nsuite = "kernel"\n'
        'build = { cargo = true, env = { INIT_SCRIPT = "/bin/bench" } }': 'profiles.a.bench: '
        'args = "build" needs {bench_args} in a build env value, e.g. env = { INIT_SCRIPT = '
        '"/bin/bench {bench_args}" }',
    }  # fmt: skip
    for i, (bench, problem) in enumerate(cases.items()):
        folder = tmp_path / str(i)
        folder.mkdir()
        path = write_config(folder, f"{profile}[profiles.a.bench]\n{bench}\n")
        assert _refusal(path) == (f"<dir>/ci_tools.toml: 1 problem(s):\n  - {problem}", HINT)
    # The placeholder in the build's env is what args = "build" needs.
    fine = tmp_path / "fine"
    fine.mkdir()
    config.load(write_config(fine, f'{profile}[profiles.a.bench]\nguest = "kernel"\nargs = '
                             '"build"\nsuite = "kernel"\nbuild = { cargo = true, env = { '
                             'INIT_SCRIPT = "/bin/bench {bench_args}" } }\n'))  # fmt: skip


def test_kernel_folders_must_exist(tmp_path: Path) -> None:
    path = tmp_path / "ci_tools.toml"
    path.write_text('[kernel]\ncrate = "."\nworkdir = "nope"\n[profiles.a]\ntarget = "t"\n'
                    "features = []\n")  # fmt: skip
    (tmp_path / "Cargo.toml").write_text('[package]\nname = "k"\nversion = "0.0.0"\n')
    assert _refusal(path) == (
        "<dir>/ci_tools.toml: 1 problem(s):\n  - kernel.workdir: <dir>/nope is not a folder",
        HINT,
    )
    (tmp_path / "nope").mkdir()
    assert config.load(path).kernel.workdir == tmp_path / "nope"
    (tmp_path / "Cargo.toml").unlink()
    assert _refusal(path)[0] == (
        "<dir>/ci_tools.toml: 1 problem(s):\n  - kernel.crate: <dir>/Cargo.toml does not exist"
    )
    assert config.load(path, check_paths=False).kernel.crate_dir == tmp_path


def test_gate_budget_may_equal_the_first_look_not_be_below_it(tmp_path: Path) -> None:
    body = '[profiles.a]\ntarget = "t"\nfeatures = []\n[gate]\nmin_boots = {}\nmax_boots = 9\n'
    assert config.load(write_config(tmp_path, body.replace("{}", "9"))).gate.max_boots == 9
    assert _refusal(write_config(tmp_path, body.replace("{}", "10"))) == (
        "<dir>/ci_tools.toml: 1 problem(s):\n  - gate: min_boots (10) is above max_boots (9): "
        "the budget must allow the first look",
        HINT,
    )


def test_a_toml_error_and_an_unknown_profile_say_how_to_fix_them(tmp_path: Path) -> None:
    path = tmp_path / "ci_tools.toml"
    path.write_text("[kernel\n")
    message, hint = _refusal(path)
    assert message.startswith("<dir>/ci_tools.toml: not valid TOML: ")
    assert hint == "fix the syntax at the line shown"
    loaded = config.load(REPO / "ci_tools.toml")
    with pytest.raises(BadInputError) as caught:
        loaded.profile("x")
    assert caught.value.message == f"{REPO / 'ci_tools.toml'}: no profile 'x'"
    assert caught.value.hint == (
        "profiles in this config: fortress, balanced, performance, ludicrous"
    )
