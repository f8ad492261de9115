"""The README stays true: its exit-code table is ExitCode, its commands exist."""

from __future__ import annotations

import os
import re
import subprocess

from ci_tools.cli import build_parser
from ci_tools.errors import ExitCode

from conftest import REPO

README = (REPO / "README.md").read_text()


# Words each exit code's row of the README must hold: the table says what the code means.
MEANINGS = {
    ExitCode.OK: "success", ExitCode.REGRESSION: "regressed",
    ExitCode.INCONCLUSIVE: "inconclusive", ExitCode.BAD_INPUT: "bad input",
    ExitCode.SETUP: "set-up", ExitCode.BUILD_FAILED: "build failed",
    ExitCode.INCOMPLETE: "incomplete", ExitCode.KERNEL_PANIC: "panicked",
    ExitCode.GUEST_RESET: "reset", ExitCode.HANG: "hang", ExitCode.TIMEOUT: "timeout",
    ExitCode.QEMU_FAILED: "QEMU failed", ExitCode.KVM_FAILED: "KVM was requested",
    ExitCode.HARNESS: "a bug in ci_tools", ExitCode.GITHUB_API: "GitHub API",
    ExitCode.INTERRUPTED: "interrupted",
}  # fmt: skip


def test_exit_code_table_matches_exit_codes() -> None:
    section = README.split("## How a run can end, and exit codes", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\d+) \| (.*) \|$", section, re.MULTILINE)
    assert [int(code) for code, _ in rows] == [int(code) for code in ExitCode]
    for code, meaning in rows:
        assert MEANINGS[ExitCode(int(code))] in meaning, (code, meaning)


def test_every_cli_command_is_documented() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    missing = [name for name in commands if f"`{name}" not in README and f" {name} " not in README]
    assert not missing, f"commands missing from README: {missing}"


def test_two_setup_commands() -> None:
    setup = README.split("## Set-up: two commands", 1)[1].split("\n## ", 1)[0]
    block = setup.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands == ["./nox -s bench-linux -- --quick", "./nox -s tests"]
    assert os.access(REPO / "nox", os.X_OK)
    # CI extracts the commands from this very section and runs them as written.
    extracted = subprocess.run(
        [REPO / ".ci" / "readme-commands", REPO / "README.md"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert extracted == commands
    ci_run = (REPO / ".ci" / "run").read_text()
    assert "mapfile -t commands < <(.ci/readme-commands README.md)" in ci_run
    # CI runs exactly the README's test command (and the main job), in a fresh root.
    assert f"readme_tests='{commands[1]}'" in ci_run
    assert f"readme_main='{commands[0]}'" in ci_run
