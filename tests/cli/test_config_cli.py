"""``ci_tools config --github-output``: what the reusable workflows read from a config
(the matrix, the crate, the pinned nightly)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_tools import cli
from ci_tools.errors import ExitCode

from conftest import REPO

CONFIG = '[kernel]\ncrate = "k"\n{pin}\n[profiles.a]\ntarget = "x86_64-unknown-none"\n' \
    'features = []\n[profiles.b]\ntarget = "x86_64-unknown-none"\nfeatures = []\n'  # fmt: skip


def _outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT's heredoc entries."""
    out, lines = {}, path.read_text().splitlines()
    while lines:
        name, delimiter = lines.pop(0).split("<<")
        end = lines.index(delimiter)
        out[name], lines = "\n".join(lines[:end]), lines[end + 1 :]
    return out


@pytest.fixture
def github_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "github-output"
    path.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    return path


def _config(tmp_path: Path, pin: str = "") -> Path:
    (tmp_path / "k").mkdir(exist_ok=True)
    (tmp_path / "k" / "Cargo.toml").write_text('[package]\nname = "k"\n')
    path = tmp_path / "ci_tools.toml"
    path.write_text(CONFIG.format(pin=pin))
    return path


def test_the_outputs_of_a_config_with_a_pinned_nightly(tmp_path: Path, github_output: Path) -> None:
    path = _config(tmp_path, 'rustup_toolchain = "nightly-2026-11-15"')
    assert cli.main(["config", "--config", str(path), "--github-output"]) == ExitCode.OK
    out = _outputs(github_output)
    assert [m["profile"] for m in json.loads(out["matrix"])["include"]] == ["a", "b"]
    assert (out["crate-dir"], out["rustup-toolchain"]) == ("k", "nightly-2026-11-15")


def test_profiles_narrow_the_matrix_and_an_unknown_one_is_named(
    tmp_path: Path, github_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path)
    argv = ["config", "--config", str(path), "--github-output", "--profile", "b"]
    assert cli.main(argv) == ExitCode.OK
    assert json.loads(_outputs(github_output)["matrix"]) == {
        "include": [{"profile": "b", "target": "x86_64-unknown-none", "features": [],
                     "guest": None}]
    }  # fmt: skip
    assert cli.main([*argv[:-1], "c"]) == ExitCode.BAD_INPUT
    assert "no profile c" in capsys.readouterr().err


def test_the_nightly_of_the_crates_toolchain_file(tmp_path: Path, github_output: Path) -> None:
    path = _config(tmp_path)
    assert cli.main(["config", "--config", str(path), "--github-output"]) == ExitCode.OK
    assert _outputs(github_output)["rustup-toolchain"] == ""  # the workflow's input must say
    (tmp_path / "k" / "rust-toolchain.toml").write_text(
        '[toolchain]\nchannel = "nightly-2026-10-01"\ncomponents = ["rust-src"]\n'
    )
    github_output.write_text("")
    assert cli.main(["config", "--config", str(path), "--github-output"]) == ExitCode.OK
    assert _outputs(github_output)["rustup-toolchain"] == "nightly-2026-10-01"


def test_a_floating_nightly_is_refused(
    tmp_path: Path, github_output: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _config(tmp_path, 'rustup_toolchain = "nightly"')
    assert cli.main(["config", "--config", str(path), "--github-output"]) == ExitCode.BAD_INPUT
    assert "nightly-YYYY-MM-DD" in capsys.readouterr().err


def test_this_repositorys_config_is_read_as_the_workflows_read_it(github_output: Path) -> None:
    code = cli.main(["config", "--config", str(REPO / "ci_tools.toml"), "--github-output"])
    assert code == ExitCode.OK
    assert _outputs(github_output)["crate-dir"] == "examples/kernel"
