"""``python -m ci_tools`` / ``ci-tools``: the command line.

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
from pathlib import Path
from types import FrameType
from typing import NoReturn

from ci_tools import __version__, output
from ci_tools.errors import BadInputError, CiToolsError, ExitCode, Interrupted, RunFailed


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage; ours is the 'bad input' code, 3."""

    def error(self, message: str) -> NoReturn:
        raise BadInputError(f"{self.prog}: {message}", hint=f"see `{self.prog} --help`")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _bench_options(parser: argparse.ArgumentParser, *, guest: bool) -> None:
    quick = parser.add_mutually_exclusive_group()
    quick.add_argument(
        "--quick",
        dest="quick",
        action="store_true",
        default=None,
        help="fewer iterations, for emulation (default under TCG)",
    )
    quick.add_argument(
        "--full",
        dest="quick",
        action="store_false",
        help="full iteration counts (default under KVM and natively)",
    )
    parser.add_argument(
        "--rounds",
        type=_positive,
        default=1,
        help="run the suite N times per boot; every round is a sample",
    )
    parser.add_argument(
        "--binary", type=Path, help="another bench binary that speaks the BENCH protocol"
    )
    parser.add_argument(
        "--benchmarks", default="", help="comma-separated benchmarks to run (default: all)"
    )
    parser.add_argument(
        "--output", "-o", type=Path, help="result file (default: results/<target>-<time>.json)"
    )
    parser.add_argument("--timeout", type=float, help="seconds allowed per boot/run")
    parser.add_argument(
        "--silence-timeout", type=float, help="seconds without output before the run counts as hung"
    )
    if guest:
        parser.add_argument(
            "--boots",
            type=_positive,
            default=1,
            help="separate boots, each with a slightly different command line",
        )
        parser.add_argument(
            "--mode",
            choices=("deterministic", "wallclock"),
            help="deterministic: TCG with -icount (default under TCG)",
        )
        parser.add_argument(
            "--accel",
            choices=("auto", "kvm", "tcg"),
            default="auto",
            help="auto: KVM when a test boot shows it works, else TCG",
        )
        parser.add_argument("--kernel", type=Path, help="guest kernel image (bzImage/vmlinuz)")
        parser.add_argument("--cmdline", help="kernel command line before the bench arguments")
        parser.add_argument("--memory", type=_positive, default=512, help="guest memory, MiB")
        parser.add_argument("--cpu", help="QEMU -cpu model (default: qemu64 under TCG)")
        parser.add_argument("--forward", action="append", default=[], metavar="HOST:GUEST",
                            help="forward a host port on 127.0.0.1 to the guest (0:GUEST: "
                            "any free port); repeatable")  # fmt: skip


def _add_setup(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "setup", help="install QEMU and musl-gcc (as root), fetch a guest kernel"
    )
    parser.add_argument(
        "--tests", action="store_true", help="also what ci_tools' own tests need (Rust, cpio)"
    )
    parser.set_defaults(func=_setup)


def _add_bench(sub: argparse._SubParsersAction[_Parser]) -> None:
    bench = sub.add_parser("bench", help="run the benchmarks and write a result file")
    targets = bench.add_subparsers(dest="target", required=True, parser_class=_Parser)
    linux = targets.add_parser("linux", help="boot a stock Linux kernel under QEMU")
    _bench_options(linux, guest=True)
    host = targets.add_parser("host", help="run the bench binary natively on this machine")
    _bench_options(host, guest=False)
    profile = targets.add_parser(
        "profile", help="boot a profile of the config (ci_tools.toml) under QEMU"
    )
    profile.add_argument("name", help="the profile to benchmark")
    _config_option(profile)
    _bench_options(profile, guest=True)
    bench.set_defaults(func=_run_bench)


def _add_show(sub: argparse._SubParsersAction[_Parser]) -> None:
    show = sub.add_parser("show", help="validate result files and print their tables")
    show.add_argument("files", nargs="+", type=Path)
    show.set_defaults(func=_show)


def _add_comment(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "comment",
        help="keep one benchmark comment on a pull request up to date (token from $GITHUB_TOKEN)",
    )
    parser.add_argument("--repo", help="OWNER/NAME (default: $GITHUB_REPOSITORY)")
    parser.add_argument(
        "--pr", type=_positive, help="pull request number (default: from --bench-dir or the event)"
    )
    body = parser.add_mutually_exclusive_group(required=True)
    body.add_argument("--body-file", type=Path, help="markdown to post as it is")
    body.add_argument(
        "--bench-dir",
        type=Path,
        help="a bench-pr artifact: its results are validated again and compared here",
    )
    parser.add_argument(
        "--expect-head-sha",
        help="post only if the PR's head is still this commit (workflow_run.head_sha)",
    )
    parser.add_argument(
        "--head-label",
        help="OWNER:BRANCH of the PR's head (workflow_run): find the PR on GitHub by it",
    )
    parser.add_argument("--details-url", help="link to the full tables (the bench job's summary)")
    parser.add_argument(
        "--author",
        default="github-actions[bot]",
        help="only a comment by this login is updated ('' for any author)",
    )
    parser.set_defaults(func=_comment)


def _add_github_event(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "github-event",
        help="print the PR number and base/head commits of $GITHUB_EVENT_PATH as step outputs",
    )
    parser.add_argument("--event-path", type=Path, help="default: $GITHUB_EVENT_PATH")
    parser.add_argument("--event-name", help="default: $GITHUB_EVENT_NAME")
    parser.set_defaults(func=_github_event)


def _add_bench_pr(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "bench-pr",
        help="benchmark a PR's merge base and head on this runner, compare, write the artifact",
    )
    parser.add_argument("--base", help="the PR's base commit (default: from the event)")
    parser.add_argument("--head", help="the PR's head commit, checked out here (default: event)")
    parser.add_argument("--pr", type=_positive, help="PR number (default: from the event)")
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        help="a profile to measure; repeatable (default: every profile of the config)",
    )
    parser.add_argument(
        "--boots",
        type=_positive,
        help="boots per profile and side (default: enough for the matrix to reach a verdict)",
    )
    parser.add_argument(
        "--output-dir", type=Path, default=Path("bench-pr"), help="the artifact folder"
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the merge base is checked out (default: a temp dir)"
    )
    parser.set_defaults(func=_bench_pr)


def _add_compare(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "compare",
        help="compare result files (the first is the baseline); exit 0 ok, 1 regression, "
        "2 inconclusive, 3 cannot compare",
    )
    parser.add_argument("files", nargs="+", type=Path, help="BASE.json HEAD.json [MORE.json ...]")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write GitHub markdown")
    parser.add_argument(
        "--plain", action="store_true", help="Kevlar's side-by-side table, a ratio column per file"
    )
    parser.add_argument(
        "--force", action="store_true", help="compare results taken under different setups"
    )
    parser.add_argument(
        "--config", type=Path, help="ci_tools.toml with [compare] min_effect (default: if present)"
    )
    parser.add_argument(
        "--alpha", type=float, default=None, help="family-wise false-alarm rate (default 0.01)"
    )
    parser.add_argument(
        "--pairs",
        action="store_true",
        help="files are BASE1 HEAD1 BASE2 HEAD2 ...: one table, one family (a profile matrix)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        help="noise floors from A/A runs, written by `ci_tools calibrate`",
    )
    parser.set_defaults(func=_compare)


def _add_calibrate(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "calibrate", help="noise floors from A/A runs of the same code, for compare --calibration"
    )
    parser.add_argument("files", nargs="+", type=Path, help="two or more runs of the same code")
    parser.add_argument("--output", "-o", type=Path, required=True, help="calibration JSON")
    parser.add_argument("--force", action="store_true", help="accept runs taken differently")
    parser.set_defaults(func=_calibrate)


def _add_cost(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "cost", help="each profile's medians against the fastest profile and the Linux guest"
    )
    parser.add_argument("--reference", type=Path, required=True, help="the Linux guest's result")
    parser.add_argument("files", nargs="+", type=Path, help="one result file per profile")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write GitHub markdown")
    parser.add_argument(
        "--force", action="store_true", help="set results taken under different setups side by side"
    )
    parser.set_defaults(func=_cost)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help="the profile matrix (default: $CI_TOOLS_CONFIG, else ci_tools.toml)",
    )


def _add_check(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser("check", help="cargo check one profile with its exact flags")
    parser.add_argument("profile")
    _config_option(parser)
    parser.set_defaults(func=_check)


def _add_clippy(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser(
        "clippy", help="cargo clippy with each profile's check flags; warnings fail it"
    )
    parser.add_argument(
        "profiles", nargs="*", help="profiles to lint (default: [clippy] profiles, else all)"
    )
    _config_option(parser)
    parser.set_defaults(func=_clippy)


def _add_fmt(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser("fmt", help="cargo fmt --check on the kernel crate, diffs per file")
    _config_option(parser)
    parser.set_defaults(func=_fmt)


def _add_config(sub: argparse._SubParsersAction[_Parser]) -> None:
    parser = sub.add_parser("config", help="validate the config and print its profile matrix")
    _config_option(parser)
    parser.add_argument(
        "--json", action="store_true", help="the matrix as JSON (for a GitHub Actions matrix)"
    )
    parser.add_argument(
        "--no-path-checks",
        action="store_true",
        help="do not check that the crate and target specs exist (a config for another checkout)",
    )
    parser.set_defaults(func=_config)


def _add_doctor(sub: argparse._SubParsersAction[_Parser]) -> None:
    doctor = sub.add_parser("doctor", help="check QEMU, KVM, compilers, guest kernel, stale VMs")
    doctor.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from ci_tools.host import doctor

    return doctor.main()


# Each entry adds one subcommand and sets ``func``, which takes the parsed
# arguments and returns the exit code.  A new command is one more entry.
COMMANDS: list[Callable[[argparse._SubParsersAction[_Parser]], None]] = [
    _add_setup,
    _add_bench,
    _add_show,
    _add_doctor,
    _add_comment,
    _add_github_event,
    _add_bench_pr,
    _add_compare,
    _add_cost,
    _add_calibrate,
    _add_check,
    _add_clippy,
    _add_fmt,
    _add_config,
]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ci-tools", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"ci_tools {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def _setup(args: argparse.Namespace) -> int:
    from ci_tools.host import provision

    provision.ensure_all(for_tests=args.tests)
    return ExitCode.OK


def _run_bench(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.bench import run, targets
    from ci_tools.boot.ports import Forward
    from ci_tools.boot.qemu import Mode
    from ci_tools.report.run import run_table

    options = run.BenchOptions(
        quick=args.quick,
        rounds=args.rounds,
        boots=getattr(args, "boots", 1),
        mode=Mode(args.mode) if getattr(args, "mode", None) else None,
        accel=getattr(args, "accel", "auto"),
        binary=args.binary,
        benchmarks=tuple(n for n in args.benchmarks.split(",") if n),
        output=args.output,
        timeout=args.timeout,
        silence_timeout=args.silence_timeout,
    )
    if args.target == "host":
        result = run.run_host(options)
    else:
        overrides = targets.Overrides(
            kernel=args.kernel,
            cmdline=args.cmdline,
            memory_mb=args.memory,
            cpu=args.cpu,
            forwards=tuple(Forward.parse(f) for f in args.forward),
        )
        if args.target == "profile":
            result = targets.run_bench(config.load(args.config), args.name, options, overrides)
        else:
            # The config's [linux] guest when there is a config here.
            loaded = config.load(check_paths=False) if config.default_path().exists() else None
            result = targets.run_linux_bench(loaded, options, overrides)
    print(run_table(result))
    print(f"\nresult: {result.path}")
    output.append_summary(run_table(result, fmt="github"))
    return ExitCode.OK


def _show(args: argparse.Namespace) -> int:
    from ci_tools.report.run import run_table
    from ci_tools.results import store

    worst = ExitCode.OK
    for path in args.files:
        result = store.load(path)
        print(run_table(result))
        print()
        if not result.status.complete:
            worst = max(worst, result.status.kind.exit_code)
    return worst


def _comment(args: argparse.Namespace) -> int:
    from ci_tools.gate import comment

    comment.post(
        comment.CommentOptions(
            repo=args.repo,
            pr=args.pr,
            body_file=args.body_file,
            bench_dir=args.bench_dir,
            expect_head_sha=args.expect_head_sha,
            head_label=args.head_label,
            details_url=args.details_url,
            author=args.author or None,
        )
    )
    return ExitCode.OK


def _github_event(args: argparse.Namespace) -> int:
    from ci_tools.github import event

    found = event.read_event(args.event_path, event_name=args.event_name)
    values = {
        "pr": "" if found.number is None else str(found.number),
        "base-sha": found.base_sha or "",
        "head-sha": found.head_sha,
        "head-repository": found.head_repository or "",
        "from-fork": "true" if found.from_fork else "false",
    }
    for name, value in values.items():
        print(f"{name}={value}")
        event.set_output(name, value)
    return ExitCode.OK


def _bench_pr(args: argparse.Namespace) -> int:
    from ci_tools.gate import measure

    options = measure.main_options(
        base=args.base,
        head=args.head,
        pr=args.pr,
        profiles=args.profile,
        boots=args.boots,
        output_dir=args.output_dir,
        work_dir=args.work_dir,
    )
    return measure.run(options)


def _compare(args: argparse.Namespace) -> int:
    from ci_tools.compare import calibration, decide
    from ci_tools.report import tables
    from ci_tools.results import store
    from ci_tools.util import files

    loaded = [store.load(path) for path in args.files]
    if args.pairs and len(loaded) % 2:
        raise BadInputError("--pairs needs an even number of files: BASE1 HEAD1 BASE2 HEAD2 ...")
    pairs = list(zip(loaded[::2], loaded[1::2], strict=True)) if args.pairs else None
    comparison = decide.compare_pairs(
        pairs or [(loaded[0], r) for r in loaded[1:]],
        min_effects=decide.min_effects_from_config(args.config),
        force=args.force,
        alpha=decide.DEFAULT_ALPHA if args.alpha is None else args.alpha,
        noise_floors=(
            calibration.load_calibration(args.calibration, mode=loaded[0].setup.mode)
            if args.calibration
            else None
        ),
    )
    print(tables.comparison_plain(comparison) if args.plain else tables.comparison_text(comparison))
    markdown = tables.comparison_markdown(comparison)
    if args.markdown:
        files.write_atomic(args.markdown, markdown)
    output.append_summary(markdown)
    return comparison.exit_code


def _calibrate(args: argparse.Namespace) -> int:
    import json

    from ci_tools.compare import calibration
    from ci_tools.results import store
    from ci_tools.util import files

    document = calibration.calibrate([store.load(p) for p in args.files], force=args.force)
    files.write_atomic(args.output, json.dumps(document, indent=2) + "\n")
    for name, floor in document["noise_floor"].items():
        print(f"{name:<16} {floor:7.1%}")
    print(f"\ncalibration: {args.output}")
    return ExitCode.OK


def _cost(args: argparse.Namespace) -> int:
    from ci_tools.compare import cost
    from ci_tools.report import tables
    from ci_tools.results import store
    from ci_tools.util import files

    table = cost.cost_table(
        store.load(args.reference), [store.load(p) for p in args.files], force=args.force
    )
    print(tables.cost_text(table))
    markdown = tables.cost_markdown(table)
    if args.markdown:
        files.write_atomic(args.markdown, markdown)
    output.append_summary(markdown)
    return ExitCode.OK


def _check(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.build import checks

    checks.check(config.load(args.config), args.profile)
    return ExitCode.OK


def _clippy(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.build import checks

    checks.clippy(config.load(args.config), args.profiles)
    return ExitCode.OK


def _fmt(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.build import checks

    checks.fmt(config.load(args.config))
    return ExitCode.OK


def _config(args: argparse.Namespace) -> int:
    import json

    from ci_tools import config

    loaded = config.load(args.config, check_paths=not args.no_path_checks)
    matrix = [
        {"profile": p.name, "target": p.target, "features": list(p.features),
         "guest": p.bench.guest if p.bench else None}
        for p in loaded.profiles
    ]  # fmt: skip
    if args.json:
        print(json.dumps({"include": matrix}))
        return ExitCode.OK
    print(f"{loaded.path}: valid; kernel crate {loaded.kernel.crate_dir}")
    for p in loaded.profiles:
        guest = p.bench.guest if p.bench else "-"
        print(f"  {p.name:<12} {p.target:<34} {p.feature:<24} bench: {guest}")
    return ExitCode.OK


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("terminated by SIGTERM")


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args))
    except BrokenPipeError:
        # `ci-tools compare … | head`: the reader left. Anything measured was
        # saved before printing; end quietly, as other command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt:
        output.error("interrupted")
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


if __name__ == "__main__":
    sys.exit(main())
