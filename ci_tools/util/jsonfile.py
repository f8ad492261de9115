"""JSON files read with limits: the one way ci_tools reads a JSON document from disk.

A result file or a bench-pr manifest may come from a fork's pull request,
so reading one trusts nothing about it.  ``read_json`` refuses, with a
``BadInputError`` that names the file, the cause and the limit:

- a file larger than its ``limit`` in bytes, checked with ``fstat`` on the
  open file before a byte is read (and again while reading, should it grow);
- anything but a regular file: a FIFO (opened without blocking), a device,
  a folder;
- below ``within`` (the artifact folder), a symbolic link anywhere on the
  way, the file or a folder: each step is opened with ``O_NOFOLLOW``
  relative to the one before, so nothing can be swapped in between;
- bytes that are not UTF-8, text that is not JSON;
- containers nested deeper than ``MAX_DEPTH`` (a ``'[' * 200000`` makes
  Python's parser raise RecursionError; this one says what is wrong);
- numbers written with more than ``MAX_NUMBER_CHARS`` characters (Python
  refuses to convert integers of more than 4300 digits), NaN and infinities.
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from ci_tools.errors import BadInputError

MAX_DEPTH = 64  # ci_tools' own files nest 6 deep
MAX_NUMBER_CHARS = 64  # a 64-bit integer has 20 digits; a float's repr at most 24 characters

_OPEN = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK
_DIRECTORY = os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY | os.O_NOFOLLOW


class _Refused(ValueError):
    """A number or constant the parser must not take; raised from its hooks."""


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB" if size >= 1 << 20 else f"{size:,} bytes"


def _open_error(path: Path, exc: OSError) -> BadInputError:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return BadInputError(
            f"{path}: a symbolic link (or a link on its way) where a file was expected; refused",
            hint="an artifact must hold regular files and folders only",
        )
    return BadInputError(f"cannot read {path}: {exc.strerror}")


def _open(path: Path, within: Path | None) -> int:
    """A descriptor for ``path``; below ``within`` no step of the way may be a link."""
    if within is None:
        return os.open(path, _OPEN)
    parts = path.relative_to(within).parts
    folder = os.open(within, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            step = os.open(part, _DIRECTORY, dir_fd=folder)
            os.close(folder)
            folder = step
        return os.open(parts[-1], _OPEN | os.O_NOFOLLOW, dir_fd=folder)
    finally:
        os.close(folder)


def read_bytes(path: Path, *, limit: int, within: Path | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see the module's rules)."""
    try:
        fd = _open(path, within)
    except OSError as exc:
        raise _open_error(path, exc) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadInputError(f"{path}: not a regular file; refused")
        if info.st_size > limit:
            raise BadInputError(
                f"{path}: {_mib(info.st_size)}, more than the {_mib(limit)} ci_tools reads; "
                "refused without reading it",
                hint="a file this large was not written by ci_tools",
            )
        os.set_blocking(fd, True)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise BadInputError(f"{path}: grew past {_mib(limit)} while read; refused")
        return b"".join(chunks)
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror}") from exc
    finally:
        os.close(fd)


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"an integer of {len(text):,} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else math.inf
    if not math.isfinite(value):
        raise _Refused(f"a number of {len(text):,} characters that is not a finite float")
    return value


def _parse_constant(name: str) -> Any:
    raise _Refused(f"{name}, which JSON does not have")


def _check_depth(document: Any) -> None:
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _Refused(f"containers nested more than {MAX_DEPTH} deep")
            children = value.values() if isinstance(value, dict) else value
            stack.extend((child, depth + 1) for child in children)


def parse(data: bytes, *, source: str) -> Any:
    """A JSON document from untrusted bytes, within the module's bounds."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{source}: not UTF-8 (byte {exc.start}: {exc.reason})") from exc
    try:
        document = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
        _check_depth(document)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
            hint="the file is damaged or was not written by ci_tools",
        ) from exc
    except RecursionError as exc:
        raise BadInputError(
            f"{source}: containers nested more than {MAX_DEPTH} deep; refused"
        ) from exc
    except ValueError as exc:  # _Refused, and whatever else the parser cannot take
        raise BadInputError(f"{source}: refused: {exc}") from exc
    return document


def read_json(path: Path, *, limit: int, within: Path | None = None) -> Any:
    """``path`` parsed as JSON: at most ``limit`` bytes, no links below ``within``."""
    return parse(read_bytes(path, limit=limit, within=within), source=str(path))
