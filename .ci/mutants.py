#!/usr/bin/env python3
"""Mutation testing of ci_tools' core with mutmut (``nox -s mutants``).

    python .ci/mutants.py                            # the core (pyproject's [tool.mutmut]):
                                                     # the mutants without a result yet
    python .ci/mutants.py ci_tools/boot/accel.py     # every mutant of one file (or several)
    python .ci/mutants.py --survivors [FILE...]      # only what was not killed last time
    python .ci/mutants.py --all                      # every mutant of the core again

mutmut copies the tree to mutants/, makes every small plausible bug (a flipped
comparison, a changed constant, a dropped argument) in the files of
``only_mutate``, and runs the unit tests that reach each mutated function.  Its
results stay in mutants/: a bare run tests only mutants without a result (new or
changed functions), ``--survivors`` runs again the mutants that were not killed
(after new tests), ``mutmut show NAME`` prints one.  The mutants that
no test can kill, because they do not change what the code does, are listed with
their reasons in .ci/mutants-equivalent.txt; they are counted apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT = ROOT / ".ci" / "mutants-equivalent.txt"
KILLED = {1, 3, 36, 37, -24, 24, 152, 255}  # mutmut: killed, pytest error, timeouts, type check
NO_TESTS = {33}
SURVIVED = {0}


def core() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def module(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def equivalents() -> dict[str, str]:
    """name -> reason, from .ci/mutants-equivalent.txt (``name  # reason`` a line)."""
    found = {}
    for line in EQUIVALENT.read_text(encoding="utf-8").splitlines():
        name, _, reason = line.partition("#")
        if name.strip():
            if not reason.strip():
                sys.exit(f"{EQUIVALENT.name}: {name.strip()} has no reason")
            found[name.strip()] = reason.strip()
    return found


def results(files: list[str]) -> dict[str, int | None]:
    """mutant name -> mutmut's exit code (None: not run), for the mutants of ``files``."""
    codes: dict[str, int | None] = {}
    for path in files:
        meta = ROOT / "mutants" / f"{path}.meta"
        if meta.exists():
            codes.update(json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
    return codes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="files of the core (default: all of it)")
    parser.add_argument("--survivors", action="store_true",
                        help="run only the mutants that were not killed last time")  # fmt: skip
    parser.add_argument("--all", action="store_true", help="run every mutant again")
    args = parser.parse_args()
    scope = core()
    files = args.files or scope
    outside = [f for f in files if f not in scope]
    if outside:
        parser.error(f"not in [tool.mutmut] only_mutate of pyproject.toml: {', '.join(outside)}")
    if args.survivors:  # again, those that were not killed
        names = [n for n, code in results(files).items() if code not in KILLED]
    elif args.files or args.all:  # again, every mutant of these files
        names = [f"{module(f)}.*" for f in files]
    else:  # incremental: mutmut runs only the mutants without a result (new or changed code)
        names = []
    started = time.monotonic()
    if names or not args.survivors:
        mutmut = Path(sys.executable).parent / "mutmut"
        run = subprocess.run([str(mutmut), "run", *names], cwd=ROOT, check=False)
        if run.returncode != 0:
            return run.returncode
    elapsed = time.monotonic() - started
    return report(files, elapsed)


def report(files: list[str], elapsed: float) -> int:
    codes = results(files)
    listed = equivalents()
    equivalent = sorted(n for n in codes if n in listed)
    killed = sorted(n for n, c in codes.items() if c in KILLED and n not in listed)
    survived = sorted(n for n, c in codes.items() if c in SURVIVED and n not in listed)
    untested = sorted(n for n, c in codes.items() if c in NO_TESTS and n not in listed)
    other = sorted(n for n in codes if n not in {*equivalent, *killed, *survived, *untested})
    wrongly_listed = [n for n in equivalent if codes[n] in KILLED]
    scored = len(codes) - len(equivalent)
    print(f"\nmutation testing of {len(files)} file(s), {elapsed:.0f} s")
    print(f"  generated   {len(codes)}")
    print(f"  killed      {len(killed)}")
    print(f"  survived    {len(survived)}")
    print(f"  no tests    {len(untested)}  (no unit test reaches the function: survivors too)")
    print(f"  not run     {len(other)}")
    print(f"  equivalent  {len(equivalent)}  (.ci/mutants-equivalent.txt)")
    if scored:
        print(f"  score       {len(killed) / scored:.1%} killed of {scored}")
    for title, names in (("survived", survived), ("no tests", untested), ("not run", other)):
        if names:
            print(f"\n{title} (mutmut show NAME):")
            for name in names:
                print(f"  {name}")
    if wrongly_listed:
        print("\nlisted as equivalent but killed (remove from the list):")
        for name in wrongly_listed:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
