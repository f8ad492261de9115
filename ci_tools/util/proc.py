"""The one way ci_tools runs other programs.

- the program is resolved first, and a missing one is a ``SetupError`` that
  names the package to install (``util.packages``);
- the command is logged, quoted, before it runs; ``shell=True`` is never used;
- a failure is a ``CommandFailed`` carrying the return code and output tail;
- children are killed if anything goes wrong while they run (``Ctrl-C``,
  an exception, a timeout), so nothing outlives the call.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ci_tools import output
from ci_tools.errors import CiToolsError, ExitCode, SetupError
from ci_tools.util import packages

_PR_SET_PDEATHSIG = 1


class CommandFailed(CiToolsError):
    """A command exited non-zero."""

    exit_code = ExitCode.HARNESS

    def __init__(self, argv: Sequence[str], returncode: int, output_tail: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output_tail = output_tail
        message = f"command failed with exit code {returncode}: {quote(argv)}"
        if output_tail:
            message += "\n" + output_tail
        super().__init__(message)


def quote(argv: Sequence[str | os.PathLike[str]]) -> str:
    return shlex.join(os.fspath(a) for a in argv)


def which(program: str, *, hint: str | None = None) -> str:
    """Absolute path of ``program`` or a SetupError saying how to install it."""
    found = shutil.which(program)
    if found is None:
        raise SetupError(
            f"{program} is not installed (not found on PATH)",
            hint=hint or packages.install_hint(program),
        )
    return found


def die_with_parent(parent: int | None = None) -> None:
    """``preexec_fn``: the child gets SIGKILL when the process that started it dies.

    This is what makes a QEMU started by a harness that is itself SIGKILLed go
    away too; no cleanup code of ours could run in that case.  (Linux sends it
    when the *thread* that forked exits: a harness starts its children from
    threads that outlive them.)  ``parent``: the starting process's pid, taken
    before the fork; if it died before the signal was armed, the child exits.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    capture: bool = True,
    check: bool = True,
    quiet: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; see the module docstring for the guarantees."""
    args = [os.fspath(a) for a in argv]
    args[0] = which(args[0]) if os.sep not in args[0] else args[0]
    if not quiet:
        output.command(args)
    full_env = None if env is None else {**os.environ, **env}
    stdout = subprocess.PIPE if capture else None
    with subprocess.Popen(
        args,
        cwd=cwd,
        env=full_env,
        stdout=stdout,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        preexec_fn=die_with_parent,
    ) as child:
        try:
            out, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise CommandFailed(args, -signal.SIGKILL, f"timed out after {timeout:g} s") from None
        except BaseException:
            child.kill()
            child.wait()
            raise
    completed = subprocess.CompletedProcess(args, child.returncode, out or "", None)
    if check and child.returncode != 0:
        raise CommandFailed(args, child.returncode, tail(out or ""))
    return completed


def run_all(
    commands: Sequence[tuple[Path, Sequence[str]]],
    *,
    env: Mapping[str, str] | None = None,
    grace: float = 60.0,
) -> list[int]:
    """Run ``(cwd, argv)`` commands at the same time, output not captured; their
    return codes.  If anything interrupts the wait (Ctrl-C, SIGTERM), each gets
    SIGTERM and ``grace`` seconds to write what it has (a ci_tools harness keeps
    its samples), then SIGKILL; the interruption is raised again."""
    full_env = None if env is None else {**os.environ, **env}
    children: list[subprocess.Popen[bytes]] = []
    parent = os.getpid()
    try:
        for cwd, argv in commands:
            args = list(argv)
            args[0] = which(args[0]) if os.sep not in args[0] else args[0]
            output.command(args)
            children.append(subprocess.Popen(
                args, cwd=cwd, env=full_env, preexec_fn=lambda: die_with_parent(parent)
            ))  # fmt: skip
        return [child.wait() for child in children]
    except BaseException:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        raise


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])
