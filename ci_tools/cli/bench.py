"""``bench linux|host|profile`` and ``show``: run the benchmarks, print result files."""

from __future__ import annotations

import argparse
from pathlib import Path

from ci_tools import output
from ci_tools.cli.options import Parser, Subparsers, config_option, non_negative, positive
from ci_tools.errors import ExitCode


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
        type=positive,
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
            type=positive,
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
        parser.add_argument(
            "--memory", type=positive, help="guest memory, MiB (default: the config's, else 512)"
        )
        parser.add_argument(
            "--cpu", help="QEMU -cpu model (default: the config's, else qemu64 under TCG)"
        )
        parser.add_argument("--machine", help="QEMU -machine (default: the config's, else pc)")
        parser.add_argument(
            "--jobs", "-j", type=positive,
            help="boots at once (default: one per CPU in deterministic mode, else 1)",
        )  # fmt: skip
        parser.add_argument(
            "--first-boot", type=non_negative, default=0, metavar="K",
            help="index of the first boot (its command line's padding; default 0)",
        )  # fmt: skip
        parser.add_argument(
            "--shard", metavar="I/N",
            help="measure shard I of N of the boots (every N-th, from the I-th); "
            "`ci_tools merge` joins the shards' result files",
        )  # fmt: skip
        parser.add_argument("--forward", action="append", default=[], metavar="HOST:GUEST",
                            help="forward a host port on 127.0.0.1 to the guest (0:GUEST: "
                            "any free port); repeatable")  # fmt: skip


def add_bench(sub: Subparsers) -> None:
    bench = sub.add_parser("bench", help="run the benchmarks and write a result file")
    targets = bench.add_subparsers(dest="target", required=True, parser_class=Parser)
    linux = targets.add_parser("linux", help="boot a stock Linux kernel under QEMU")
    config_option(linux)
    _bench_options(linux, guest=True)
    host = targets.add_parser("host", help="run the bench binary natively on this machine")
    _bench_options(host, guest=False)
    profile = targets.add_parser(
        "profile", help="boot a profile of the config (ci_tools.toml) under QEMU"
    )
    profile.add_argument("name", help="the profile to benchmark")
    config_option(profile)
    _bench_options(profile, guest=True)
    bench.set_defaults(func=_run_bench)


def _run_bench(args: argparse.Namespace) -> int:
    from ci_tools import config
    from ci_tools.bench import run, targets
    from ci_tools.bench.schedule import Shard
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
        jobs=getattr(args, "jobs", None),
        first_boot=getattr(args, "first_boot", 0),
        shard=Shard.parse(args.shard) if getattr(args, "shard", None) else None,
    )
    if args.target == "host":
        result = run.run_host(options)
    else:
        overrides = targets.Overrides(
            kernel=args.kernel,
            cmdline=args.cmdline,
            memory_mb=args.memory,
            cpu=args.cpu,
            machine=args.machine,
            forwards=tuple(Forward.parse(f) for f in args.forward),
        )
        if args.target == "profile":
            result = targets.run_bench(config.load(args.config), args.name, options, overrides)
        else:
            # The config's [linux] guest: the one named, else the one here if there is one.
            if args.config is not None:
                loaded = config.load(args.config, check_paths=False)
            elif config.default_path().exists():
                loaded = config.load(check_paths=False)
            else:
                loaded = None
            result = targets.run_linux_bench(loaded, options, overrides)
    print(run_table(result))
    print(f"\nresult: {result.path}")
    output.append_summary(run_table(result, fmt="github"))
    return ExitCode.OK


def add_merge(sub: Subparsers) -> None:
    merge = sub.add_parser(
        "merge", help="join the result files of shards of one run (--shard, --first-boot)"
    )
    merge.add_argument("files", nargs="+", type=Path, help="the shards' result files")
    merge.add_argument("--output", "-o", type=Path, required=True, help="the joined result file")
    merge.set_defaults(func=_merge)


def _merge(args: argparse.Namespace) -> int:
    from ci_tools.report.run import run_table
    from ci_tools.results import merge, store

    result = merge.merge([store.load(p) for p in args.files], args.output)
    print(run_table(result))
    print(f"\nresult: {result.path}")
    return ExitCode.OK if result.status.complete else result.status.kind.exit_code


def add_show(sub: Subparsers) -> None:
    show = sub.add_parser("show", help="validate result files and print their tables")
    show.add_argument("files", nargs="+", type=Path)
    show.set_defaults(func=_show)


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
