#!/usr/bin/env python3
"""The interface Kevlar users know, as a thin front over ``python -m ci_tools``.

    run-benchmarks.py run --profile balanced [--quick]  -> ci_tools bench profile balanced
    run-benchmarks.py linux [--binary ./bench]          -> ci_tools bench linux
    run-benchmarks.py host [--binary ./bench]           -> ci_tools bench host
    run-benchmarks.py compare A.json B.json             -> ci_tools compare --plain A.json B.json
    run-benchmarks.py all-profiles [...]                -> nox -s bench-all -- ...

Every other argument is passed through unchanged; the exit code is ci_tools'.
"""

from __future__ import annotations

import os
import sys

USAGE = __doc__ or ""


def translate(argv: list[str]) -> list[str]:
    """The ci_tools command line for a run-benchmarks.py command line."""
    if not argv or argv[0] in ("-h", "--help"):
        raise SystemExit(USAGE)
    command, rest = argv[0], argv[1:]
    py = [sys.executable, "-m"]
    if command == "run":
        if "--profile" not in rest:
            raise SystemExit("run-benchmarks.py run: --profile NAME is required")
        i = rest.index("--profile")
        profile = rest[i + 1] if i + 1 < len(rest) else ""
        return [*py, "ci_tools", "bench", "profile", profile, *rest[:i], *rest[i + 2 :]]
    if command in ("linux", "host"):
        return [*py, "ci_tools", "bench", command, *rest]
    if command == "compare":
        return [*py, "ci_tools", "compare", "--plain", *rest]
    if command == "all-profiles":
        return [*py, "nox", "-s", "bench-all", "--", *rest]
    raise SystemExit(f"run-benchmarks.py: unknown command {command!r}\n\n{USAGE}")


if __name__ == "__main__":
    args = translate(sys.argv[1:])
    os.execv(args[0], args)
