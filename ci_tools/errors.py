"""One exception family; each kind has its own documented exit code.

Every error carries what happened (``message``) and what to do about it
(``hint``).  ``ci_tools.cli.main`` catches them once, prints both and exits
with ``exit_code``.  The table below is mirrored in README.md ("Exit codes");
``tests/test_readme.py`` keeps the two equal.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of ``python -m ci_tools``."""

    OK = 0
    REGRESSION = 1  # compare: at least one benchmark regressed
    INCONCLUSIVE = 2  # compare: no regression shown, but something could not be decided
    BAD_INPUT = 3  # usage, config, malformed or incompatible result files
    SETUP = 4  # a tool, compiler or guest kernel is missing
    BUILD_FAILED = 5  # compiling the bench binary (or the kernel) failed
    INCOMPLETE = 10  # guest output ended before BENCH_END / fewer results than announced
    KERNEL_PANIC = 11  # the guest kernel panicked
    GUEST_RESET = 12  # triple fault or unexpected reset of the guest
    HANG = 13  # no console output for longer than the silence timeout
    TIMEOUT = 14  # the run exceeded its overall time limit
    QEMU_FAILED = 15  # QEMU did not start, or exited with an error of its own
    KVM_FAILED = 16  # KVM was requested and does not work on this machine
    HARNESS = 20  # a bug or unexpected state in ci_tools itself
    GITHUB_API = 21  # the GitHub API failed or kept failing (PR comment not posted)
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


class CiToolsError(Exception):
    """Base of every error ci_tools reports to its user."""

    exit_code: ExitCode = ExitCode.HARNESS

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  fix: {self.hint}"
        return self.message


class BadInputError(CiToolsError):
    exit_code = ExitCode.BAD_INPUT


class SetupError(CiToolsError):
    exit_code = ExitCode.SETUP


class BuildError(CiToolsError):
    exit_code = ExitCode.BUILD_FAILED


class HarnessError(CiToolsError):
    exit_code = ExitCode.HARNESS


class Interrupted(CiToolsError):
    exit_code = ExitCode.INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM: stops the command as Ctrl-C does (exit 130).

    Not a ``CiToolsError``, nor an ``Exception``: no handler meant for bad
    input or a failed run can take it for one and carry on (post a comment,
    start the next boot); only the ``KeyboardInterrupt`` paths see it.
    """


class RunFailed(CiToolsError):
    """A benchmark run ended without a complete result.

    The partial result has already been written when this is raised;
    ``result_path`` says where.
    """

    def __init__(
        self,
        message: str,
        *,
        exit_code: ExitCode,
        hint: str | None = None,
        result_path: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code
        self.result_path = result_path
