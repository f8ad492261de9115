"""Writing files so that a reader never sees half of one."""

from __future__ import annotations

import fcntl
import os
import tempfile
from pathlib import Path

from ci_tools.util import locks


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write via a temporary file (a unique name in the same folder) and rename: a
    reader never sees half a file, and concurrent writers never share a name.

    The temporary file is locked while it is written, so the leftover of a writer
    killed mid-write is told from a live writer's file and swept by the next write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=".tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with os.fdopen(fd, "wb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    locks.sweep_unlocked_files(path.parent, f"{prefix}*.tmp")
