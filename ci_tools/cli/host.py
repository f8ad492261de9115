"""``setup`` and ``doctor``: what this machine needs, and what it can do."""

from __future__ import annotations

import argparse

from ci_tools.cli.options import Subparsers
from ci_tools.errors import ExitCode


def add_setup(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "setup", help="install QEMU and musl-gcc (as root), fetch a guest kernel"
    )
    parser.add_argument(
        "--tests", action="store_true", help="also what ci_tools' own tests need (Rust, cpio)"
    )
    parser.set_defaults(func=_setup)


def _setup(args: argparse.Namespace) -> int:
    from ci_tools.host import provision

    provision.ensure_all(for_tests=args.tests)
    return ExitCode.OK


def add_doctor(sub: Subparsers) -> None:
    doctor = sub.add_parser("doctor", help="check QEMU, KVM, compilers, guest kernel, stale VMs")
    doctor.set_defaults(func=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from ci_tools.host import doctor

    return doctor.main()
