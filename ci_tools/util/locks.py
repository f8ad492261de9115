"""File locks that let many ci_tools processes, and many boots of one, share files.

Three uses, one mechanism (``flock``, which the kernel drops when its holder
dies, however it dies; a pid written in a file can be reused, a lock cannot):

- ``exclusive``: work done once and waited for (the guest kernel download, a
  forwarded host port): a second holder says what it waits for, then waits;
- ``private_dir``: a folder of one user (a boot's runtime folder, a build's
  scratch folder) locked for as long as that user lives;
- ``sweep``: leftovers of killed runs are removed only when no live process
  holds their lock, so a sweep never takes what a live run still uses.

``flock`` locks belong to an open file, not to a process: two boots of one
process hold their folders against each other as two processes do.  Python
opens files close-on-exec, so a child (QEMU, cargo) never holds a lock of
ours past its parent.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ci_tools import output

# A folder being made is renamed to its swept name only once locked; one left
# half-made by a run killed in that instant is swept when older than this.
UNLOCKED_GRACE_S = 60.0
NEW_PREFIX = ".new-"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


@contextmanager
def exclusive(path: Path, *, waiting: str | Callable[[], str]) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made if missing) for the ``with`` block.

    When another process (or another boot of this one) holds it, ``waiting``
    is said once (a callable is asked then, e.g. to name the holder), then
    this waits for it.  The holder's pid is written into the file for that."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        writable = True
    except PermissionError:  # another user's lock file (/run/lock): flock needs no write
        fd, writable = os.open(path, os.O_RDONLY), False
    try:
        if not _try_lock(fd):
            output.info(waiting() if callable(waiting) else waiting)
            fcntl.flock(fd, fcntl.LOCK_EX)
        if writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def holder_pid(path: Path) -> int | None:
    """The pid the last holder of an ``exclusive`` lock wrote, if any."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def in_use(path: Path) -> bool:
    """Whether a live process holds ``path`` (a file or folder) locked."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)


class PrivateDir:
    """A folder locked by its user for as long as the user holds this object."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def release(self, *, remove: bool = True) -> None:
        """Remove the folder (unless ``remove`` is false), then drop the lock."""
        if self._fd < 0:
            return
        try:
            if remove:
                shutil.rmtree(self.path, ignore_errors=True)
        finally:
            os.close(self._fd)
            self._fd = -1


def private_dir(parent: Path, name: str, *, mode: int = 0o700) -> PrivateDir:
    """Make ``parent/name`` locked from its first instant: made under a ``.new-``
    name that sweeps of ``name``'s pattern never match, locked, then renamed."""
    parent.mkdir(parents=True, exist_ok=True)
    staging = parent / f"{NEW_PREFIX}{secrets.token_hex(6)}"
    staging.mkdir(mode=mode)
    fd = os.open(staging, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        final = parent / name
        os.rename(staging, final)  # fails (it is not empty or not a folder) if name is taken
    except BaseException:
        os.close(fd)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PrivateDir(final, fd)


@contextmanager
def scratch_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A private folder ``parent/<prefix><random>`` for the ``with`` block, removed
    after it; the leftovers of killed runs with that prefix are swept first."""
    sweep(parent, f"{prefix}*")
    held = private_dir(parent, f"{prefix}{secrets.token_hex(6)}")
    try:
        yield held.path
    finally:
        held.release()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def sweep(
    parent: Path,
    pattern: str,
    *,
    also_alive: Callable[[Path], bool] | None = None,
) -> list[Path]:
    """Remove what matches ``pattern`` in ``parent`` that no live process holds
    locked (nor ``also_alive`` says is alive), and half-made ``.new-`` folders
    past the grace; returns what was removed."""
    removed = []
    for entry in sorted(parent.glob(pattern)):
        try:
            fd = os.open(entry, os.O_RDONLY)
        except OSError:
            continue  # gone meanwhile, or not ours to open
        try:
            if not _try_lock(fd) or (also_alive is not None and also_alive(entry)):
                continue
            _remove(entry)  # under the lock: nobody can take it up meanwhile
            removed.append(entry)
        finally:
            os.close(fd)
    for entry in parent.glob(f"{NEW_PREFIX}*"):
        if _older_than(entry, UNLOCKED_GRACE_S) and not in_use(entry):
            _remove(entry)
            removed.append(entry)
    return removed


def sweep_unlocked_files(parent: Path, pattern: str) -> list[Path]:
    """Remove temporary files matching ``pattern`` whose writer is gone: unlocked and
    past the grace (a writer locks its file a moment after making it)."""
    removed = []
    for entry in parent.glob(pattern):
        if _older_than(entry, UNLOCKED_GRACE_S) and not in_use(entry):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
