"""``python -m ci_tools compare``, ``cost`` and ``show``: every exit code (a bug's too),
the files they write."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ci_tools import cli
from ci_tools.compare import decide
from ci_tools.errors import BadInputError, ExitCode, RunFailed
from ci_tools.results import store

from conftest import FIXTURES, REPO, make, suite

RESULTS = FIXTURES / "results"
A = str(RESULTS / "linux-det-8boots-a.json")
B = str(RESULTS / "linux-det-8boots-b.json")
SLOW = str(RESULTS / "linux-det-8boots-b-getpid-x1.10.json")
WALL = str(RESULTS / "linux-wallclock-8boots.json")


@pytest.fixture(autouse=True)
def no_config_no_actions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where there is no ci_tools.toml, outside GitHub Actions."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI_TOOLS_CONFIG", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "")


def test_exit_0_same_kernel(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", A, B]) == 0
    out = capsys.readouterr().out
    assert "0 regression(s)" in out and "exit code 0" in out


def test_exit_1_regression(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    md = tmp_path / "out" / "compare.md"
    assert cli.main(["compare", A, SLOW, "--markdown", str(md)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out
    assert "**REGRESSION**" in md.read_text()


def test_exit_2_inconclusive(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = make(suite(rng, 3), name="b.json")
    head = make(suite(rng, 3), name="h.json")
    for r in (base, head):
        assert r.path is not None
        store.save(dict(r.data), tmp_path / r.path.name)
    assert cli.main(["compare", str(tmp_path / "b.json"), str(tmp_path / "h.json")]) == 2


def test_exit_3_deterministic_against_wallclock(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", A, WALL]) == 3
    err = capsys.readouterr().err
    assert "mode differs: linux-det-8boots-a.json deterministic, " in err
    assert "linux-wallclock-8boots.json wallclock" in err
    assert "--force" in err


def test_force_compares_anyway_and_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    # A wall-clock side without a calibration can show no regression (its drift between
    # runs is unknown): the forced table is inconclusive, exit 2.
    assert cli.main(["compare", A, WALL, "--force"]) == 2
    out = capsys.readouterr().out
    assert "COMPARED DESPITE DIFFERENCES (--force): mode differs" in out
    assert "wall-clock drift between runs is unknown" in out


def test_exit_3_bad_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert cli.main(["compare", A, str(broken)]) == 3
    assert cli.main(["compare", A]) == 3
    assert cli.main(["compare", A, str(tmp_path / "missing.json")]) == 3
    assert cli.main(["compare", A, B, "--alpha", "2"]) == 3
    assert cli.main(["compare", A, B, SLOW, "--pairs"]) == 3
    assert "invalid JSON" in capsys.readouterr().err


def test_plain_prints_kevlars_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", A, B, SLOW, "--plain"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[0] == "Benchmark"
    assert out.count("ratio") == 2


def test_pairs_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", "--pairs", A, B, A, SLOW]) == 1
    out = capsys.readouterr().out
    assert "family-wise alpha 0.01 over 16 row(s)" in out


def test_job_summary_gets_the_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert cli.main(["compare", A, SLOW]) == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n### Benchmarks: ")
    assert "**REGRESSION**" in text


def test_config_min_effect_is_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "ci_tools.toml"
    text = (REPO / "ci_tools.toml").read_text()
    assert "[compare]" in text
    head, _, tail = text.partition("[compare]")
    rest = tail.split("\n", 2)[2] if "\n" in tail else ""
    config.write_text(head + "[compare]\nmin_effect = { default = 0.03, getpid = 0.2 }\n" + rest)
    assert decide.min_effects_from_config(config) == {"default": 0.03, "getpid": 0.2}
    assert cli.main(["compare", A, SLOW, "--config", str(config)]) == 0  # 10 % < 20 %
    # Without --config, ci_tools.toml in the working directory is read.
    assert cli.main(["compare", A, SLOW]) == 0
    assert cli.main(["compare", A, SLOW, "--config", str(tmp_path / "nope.toml")]) == 3


def test_calibration_file(tmp_path: Path) -> None:
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps({"noise_floor": {"getpid": 0.25}}))
    assert cli.main(["compare", A, SLOW, "--calibration", str(calibration)]) == 0
    calibration.write_text(json.dumps({"noise_floor": {"getpid": "big"}}))
    assert cli.main(["compare", A, SLOW, "--calibration", str(calibration)]) == 3


def test_cost_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    profiles = [str(RESULTS / f"profile-{p}.json") for p in ("fortress", "balanced")]
    md = tmp_path / "cost.md"
    assert cli.main(["cost", "--reference", A, *profiles, "--markdown", str(md)]) == 0
    out = capsys.readouterr().out
    assert "fortress (vs fastest, vs linux)" in out and "balanced (vs fastest, vs linux)" in out
    assert md.read_text().startswith("### Cost of each profile")
    assert cli.main(["cost", "--reference", A, WALL]) == 3


def test_files_outside_the_repo_keep_their_names(tmp_path: Path) -> None:
    shutil.copy(A, tmp_path / "base.json")
    shutil.copy(SLOW, tmp_path / "head.json")
    c = decide.compare_results([store.load(tmp_path / "base.json"),
                                 store.load(tmp_path / "head.json")])  # fmt: skip
    assert c.pairs == (("base.json", "head.json"),)


def test_calibrate_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal" / "deterministic.json"
    assert cli.main(["calibrate", A, B, "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["mode"] == "deterministic"
    assert set(document["noise_floor"]) == set(store.load(Path(A)).benchmark_names())
    assert "calibration:" in capsys.readouterr().out
    assert cli.main(["compare", A, SLOW, "--calibration", str(out)]) == 1
    assert cli.main(["calibrate", A, WALL, "-o", str(out)]) == 3
    assert cli.main(["compare", WALL, WALL, "--calibration", str(out)]) == 3


def test_show_exits_with_the_worst_ending_of_its_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    values = suite(np.random.default_rng(5), 2)
    paths = []
    for name, status in [
        ("done.json", None),
        ("hang.json", {"state": "incomplete", "kind": "hang", "reason": "boot 2: no output"}),
        ("cut.json", {"state": "incomplete", "kind": "incomplete", "reason": "cut short"}),
    ]:
        result = make(values, name=name, status=status)
        store.save(dict(result.data), tmp_path / name)
        paths.append(str(tmp_path / name))
    assert cli.main(["show", paths[0]]) == 0
    assert cli.main(["show", paths[0], paths[2]]) == 10  # incomplete
    assert cli.main(["show", *paths]) == 13  # hang is worse than incomplete
    assert capsys.readouterr().out.count("getpid") >= 3


def test_a_bug_exits_20_with_a_traceback_never_a_verdicts_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug in the comparison")

    monkeypatch.setattr(decide, "compare_pairs", broken)  # stands in for a bug
    assert cli.main(["compare", A, B]) == 20
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug in the comparison" in err
    assert "internal error in ci_tools (traceback above)" in err


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (KeyboardInterrupt(), 130, "error: interrupted"),
        (RunFailed("the guest hung", exit_code=ExitCode.HANG), 13, "error: the guest hung"),
        (BadInputError("no such file", hint="pass one"), 3, "error: no such file\n  fix: pass one"),
    ],
)
def test_main_turns_each_ending_into_its_exit_code_and_message(
    raised: BaseException, code: int, said: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    def stopped(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(decide, "compare_pairs", stopped)
    assert cli.main(["compare", A, B]) == code
    assert said in capsys.readouterr().err


def test_sigterm_ends_a_command_as_an_interruption(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def terminated(*args: object, **kwargs: object) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends

    monkeypatch.setattr(decide, "compare_pairs", terminated)
    try:
        assert cli.main(["compare", A, B]) == 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    assert "error: terminated by SIGTERM" in capsys.readouterr().err


def test_a_reader_that_leaves_ends_the_command_quietly(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def closed(*args: object, **kwargs: object) -> None:
        raise BrokenPipeError

    monkeypatch.setattr(decide, "compare_pairs", closed)
    saved = os.dup(1)
    try:
        assert cli.main(["compare", A, B]) == 128 + signal.SIGPIPE
        print("after the pipe closed", flush=True)  # goes to /dev/null now
        assert os.path.samefile(f"/proc/self/fd/{sys.stdout.fileno()}", os.devnull)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    assert capfd.readouterr().err == ""


def test_main_reads_sys_argv_without_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["ci-tools", "compare", A, SLOW])
    assert cli.main() == 1
