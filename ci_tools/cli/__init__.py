"""``python -m ci_tools`` / ``ci-tools``: the command line.

Each command group (host, bench, gate, compare, history, build, config) declares its
arguments and a handler per command that only translates them into a call.
Handlers import what they call when they run: ``ci-tools --help``, ``setup``
or ``github-event`` then start in a twentieth of a second, not in the second
that importing numpy takes.

Errors are caught once, here: the message and its fix go to stderr and the
process exits with the error's code (README, "Exit codes").
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from types import FrameType

from ci_tools import __version__, output
from ci_tools.cli import bench, build, compare, config, gate, history, host, init
from ci_tools.cli.options import Parser, Subparsers
from ci_tools.errors import CiToolsError, ExitCode, RunFailed, Terminated

# Each entry adds one subcommand and sets ``func``, which takes the parsed
# arguments and returns the exit code.  A new command is one more entry.
COMMANDS: list[Callable[[Subparsers], None]] = [
    host.add_setup,
    bench.add_bench,
    bench.add_merge,
    bench.add_show,
    host.add_doctor,
    gate.add_comment,
    gate.add_github_event,
    gate.add_bench_pr,
    compare.add_compare,
    compare.add_cost,
    compare.add_calibrate,
    history.add_history,
    build.add_check,
    build.add_clippy,
    build.add_fmt,
    config.add_config,
    init.add_init,
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ci-tools", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ci_tools {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated("terminated by SIGTERM")


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    # A command started in the background by a non-interactive shell (`ci-tools
    # bench ... &`, a CI script) inherits SIGINT ignored, and Python then installs
    # no KeyboardInterrupt handler: Ctrl-C or `kill -INT` would leave the harness
    # and its QEMU running.  A harness always stops on SIGINT, and cleans up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        given = sys.argv[1:] if argv is None else argv
        args = build_parser().parse_args(history.with_default_action(given))
        return int(args.func(args))
    except BrokenPipeError:
        # `ci-tools compare … | head`: the reader left. Anything measured was
        # saved before printing; end quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGINT, and SIGTERM (Terminated)
        output.error(str(exc) or "interrupted")
        return ExitCode.INTERRUPTED
    except RunFailed as exc:
        output.error(str(exc))
        return int(exc.exit_code)
    except CiToolsError as exc:
        output.error(str(exc))
        return int(exc.exit_code)
    except Exception:
        # A bug in ci_tools: show where, and never exit with a verdict's code.
        traceback.print_exc()
        output.error("internal error in ci_tools (traceback above); please report it")
        return ExitCode.HARNESS
