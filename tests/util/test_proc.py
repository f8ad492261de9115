"""``proc.run_all``: commands at the same time, told to stop when the caller is."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from ci_tools.util import proc


def test_commands_run_together_and_each_return_code_comes_back(tmp_path: Path) -> None:
    # Each waits for the other's file: run one after the other, neither could end.
    a = ["sh", "-c", "touch a; while [ ! -e b ]; do sleep 0.05; done; exit 3"]
    b = ["sh", "-c", "touch b; while [ ! -e a ]; do sleep 0.05; done; exit 4"]
    assert proc.run_all([(tmp_path, a), (tmp_path, b)]) == [3, 4]


def test_ctrl_c_gives_each_command_sigterm_and_time_to_write_what_it_has(tmp_path: Path) -> None:
    script = (
        'trap \'kill $!; echo kept > "$0"; exit 130\' TERM; touch "$0.started"; sleep 30 & wait'
    )
    commands = [(tmp_path, ["sh", "-c", script, str(tmp_path / f"r{i}")]) for i in (1, 2)]

    def interrupt() -> None:
        while not all((tmp_path / f"r{i}.started").exists() for i in (1, 2)):
            threading.Event().wait(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        proc.run_all(commands, grace=20)
    assert [(tmp_path / f"r{i}").read_text() for i in (1, 2)] == ["kept\n", "kept\n"]
