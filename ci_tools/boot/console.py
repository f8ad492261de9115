"""Run a program whose console speaks the BENCH protocol, and read it with pexpect.

The same reader serves a QEMU guest (its serial port is QEMU's stdio) and a
bench binary run natively on the host.  It guarantees:

- every byte is appended to the console log as it arrives, so a crash of
  anything leaves the log on disk;
- silence (no output for ``silence_timeout``) and the overall ``timeout``
  are detected and named, never waited out forever;
- the child cannot outlive the reader: it is killed on every way out of
  ``read_console`` (return, exception, Ctrl-C, SIGTERM turned into an
  exception by the CLI), and it gets SIGKILL from the kernel if the reading
  process itself is SIGKILLed (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import BinaryIO

import pexpect

from ci_tools import output
from ci_tools.boot.protocol import strip_line
from ci_tools.errors import Interrupted, SetupError
from ci_tools.util.proc import die_with_parent, which


class Ending(str, Enum):
    EXITED = "exited"  # the program ended by itself
    STOPPED_AFTER_END = "stopped-after-end"  # BENCH_END seen, then we stopped it
    SILENT = "silent"  # no output for silence_timeout
    TIMEOUT = "timeout"  # overall time limit


@dataclass(kw_only=True)
class ConsoleRun:
    raw: bytes
    ending: Ending
    exit_status: int | None  # None when killed by a signal
    signal_status: int | None
    wall_s: float
    stderr: str = ""
    saw_end: bool = False
    lines: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Limits:
    timeout: float  # whole run, seconds
    silence_timeout: float  # longest quiet stretch once output has started, seconds
    grace_after_end: float = 10.0  # wait this long for power-off after BENCH_END
    # Longest wait for the very first output (firmware and a quiet kernel boot
    # print nothing for seconds under TCG); None: same as silence_timeout.
    first_output_timeout: float | None = None


class Stop:
    """Asks running readers to stop (from another thread), with the reason why:
    the boots of a parallel run stop together when one fails or the run is
    interrupted.  A reader given one raises ``Interrupted(reason)`` within
    ``POLL_S`` of ``request``, its program killed as on any way out."""

    POLL_S = 0.2

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()


def _spawn_error(program: str, exc: BaseException) -> SetupError:
    """What stopped the program from starting on this host, and how to fix it."""
    text = str(exc) or type(exc).__name__
    if "pty" in text.lower():
        return SetupError(
            f"cannot open a pseudo-terminal for {os.path.basename(program)}'s console: {text}",
            hint="mount devpts on /dev/pts (`mount -t devpts devpts /dev/pts`); in a chroot or "
            "container, bind-mount the host's /dev/pts or start it with a /dev/pts",
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC):
        hint = f"check that {program} exists, is executable and is a program for this machine"
    else:
        hint = "a limit of this host (open files, processes, memory): see `ulimit -a`, free memory"
    return SetupError(f"cannot start {program}: {text}", hint=hint)


def _kill(child: pexpect.spawn) -> None:
    if not child.isalive():
        return
    try:
        # QEMU quits cleanly on SIGTERM; anything else gets SIGKILL shortly after.
        child.kill(signal.SIGTERM)
        deadline = time.monotonic() + 3
        while child.isalive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if child.isalive():
            child.kill(signal.SIGKILL)
    except OSError:
        pass


def read_console(
    argv: Sequence[str],
    *,
    log: BinaryIO,
    limits: Limits,
    stderr_path: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    after_spawn: Callable[[Callable[[], bool]], None] | None = None,
    end_marker: str = "BENCH_END",
    env: dict[str, str] | None = None,
    stop: Stop | None = None,
) -> ConsoleRun:
    """Run ``argv`` on a pseudo-terminal and collect its console until it ends.

    ``stderr_path`` separates the program's own error messages (QEMU's) from
    the console.  ``on_line`` sees each completed, cleaned line (for progress).
    ``after_spawn`` runs once the program started (QEMU's QMP handshake); it is
    given a function telling whether the program is still alive.
    Stops the program ``limits.grace_after_end`` seconds after a line that
    contains ``end_marker`` (BENCH_END; a kernel prints "[ 0.0] Linux version")
    if it has not ended by itself.  ``stop``: see ``Stop``.
    """
    program = which(argv[0]) if os.sep not in argv[0] else argv[0]

    parent = os.getpid()

    def preexec() -> None:
        die_with_parent(parent)
        if stderr_path is not None:
            # Opened in the child: ptyprocess closes inherited descriptors first.
            fd = os.open(stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 2)
            os.close(fd)

    output.command([program, *argv[1:]])
    start = time.monotonic()
    try:
        child = pexpect.spawn(
            program,
            list(argv[1:]),
            timeout=None,
            echo=False,
            preexec_fn=preexec,
            env=env,
            dimensions=(24, 200),
        )
    except (OSError, pexpect.ExceptionPexpect) as exc:
        raise _spawn_error(program, exc) from None
    # pexpect sleeps 0.1 s after close and after terminate by default; a run
    # should cost what QEMU costs, not that.
    child.delayafterclose = child.delayafterterminate = 0
    child.ptyproc.delayafterclose = child.ptyproc.delayafterterminate = 0
    raw = bytearray()
    pending = b""
    saw_end = False
    end_seen_at = 0.0
    last_output = start
    lines = 0
    ending = Ending.EXITED
    try:
        if after_spawn is not None:
            after_spawn(child.isalive)
        while True:
            if stop is not None and stop.requested:
                raise Interrupted(stop.reason)
            now = time.monotonic()
            if saw_end:
                wait = end_seen_at + limits.grace_after_end - now
                if wait <= 0:
                    ending = Ending.STOPPED_AFTER_END
                    break
            else:
                overall_left = start + limits.timeout - now
                quiet_limit = limits.silence_timeout
                if not raw and limits.first_output_timeout is not None:
                    quiet_limit = limits.first_output_timeout
                silence_left = last_output + quiet_limit - now
                if overall_left <= 0:
                    ending = Ending.TIMEOUT
                    break
                if silence_left <= 0:
                    ending = Ending.SILENT
                    break
                wait = min(overall_left, silence_left)
            if stop is not None:
                wait = min(wait, Stop.POLL_S)
            try:
                chunk = child.read_nonblocking(size=65536, timeout=max(wait, 0.01))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                break
            last_output = time.monotonic()
            raw += chunk
            log.write(chunk)
            log.flush()
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line_bytes in complete:
                lines += 1
                line = strip_line(line_bytes.decode(errors="replace"))
                if not saw_end and end_marker in line:
                    saw_end, end_seen_at = True, time.monotonic()
                if on_line is not None:
                    on_line(line)
    finally:
        _kill(child)
        child.close(force=True)
    stderr = stderr_path.read_text(errors="replace") if stderr_path and stderr_path.exists() else ""
    return ConsoleRun(
        raw=bytes(raw),
        ending=ending,
        exit_status=child.exitstatus,
        signal_status=child.signalstatus,
        wall_s=time.monotonic() - start,
        stderr=stderr,
        saw_end=saw_end,
        lines=lines,
    )
