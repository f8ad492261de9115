"""Build benchmarks/bench.c into a static binary, cached by what goes into it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ci_tools import output
from ci_tools.errors import BuildError
from ci_tools.util import locks, proc
from ci_tools.util.paths import cache_dir, data_file

COMPILER = "musl-gcc"
CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-Werror")


def build_bench(source: Path | None = None) -> Path:
    """The bench binary for ``source`` (default: ci_tools' bench.c).

    The cache key covers the source, the flags and the compiler, so an
    unchanged source is never rebuilt and a changed one always is.
    """
    source = source or data_file("benchmarks/bench.c")
    compiler = proc.which(COMPILER)
    version = proc.run([compiler, "--version"], quiet=True).stdout.splitlines()[0]
    key = hashlib.sha256(
        b"\0".join(
            [source.read_bytes(), " ".join(CFLAGS).encode(), version.encode(),
             os.path.realpath(compiler).encode()]
        )
    ).hexdigest()[:20]  # fmt: skip
    binary = cache_dir("bench", key) / "bench"
    if binary.exists():
        output.phase(f"bench binary up to date ({binary})")
        return binary
    output.phase(f"building {source.name} with {COMPILER}")
    # A folder of this process's own: runs sharing the cache each build into theirs and
    # rename into place (the same bytes), never moving another's file away; a killed
    # run's folder is swept by the next build.
    with locks.scratch_dir(binary.parent, ".build-") as scratch:
        partial = scratch / "bench"
        try:
            proc.run([compiler, *CFLAGS, "-o", str(partial), str(source)])
        except proc.CommandFailed as exc:
            raise BuildError(
                f"compiling {source} failed:\n{exc.output_tail}",
                hint="fix the compiler errors above; the source must build with musl-gcc -static",
            ) from exc
        os.replace(partial, binary)
    return binary
