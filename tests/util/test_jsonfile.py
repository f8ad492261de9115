"""JSON read from files a fork's pull request controls: every bad file is a clear
BadInputError (exit 3), never a traceback, and nothing is read that should not be."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from ci_tools.errors import BadInputError
from ci_tools.util import jsonfile

LIMIT = 1 << 20


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "cause"),
    [
        (b"1" * 5000, "integer of 5,000 characters"),  # Python's int conversion limit is 4300
        (b"[" * 200_000, "nested more than 64 deep"),  # RecursionError in json
        (b"[" * 65 + b"]" * 65, "nested more than 64 deep"),  # parses, but deeper than allowed
        (b'{"a": "\xff\xfe"}', "not UTF-8 (byte 7"),
        (b'{"a": 1e999}', "not a finite float"),
        (b'{"a": NaN}', "NaN, which JSON does not have"),
        (b'{"a": ' + b"1" * 100 + b".5}", "number of 102 characters"),
        (b'{"a": [1, 2', "invalid JSON at line 1"),
    ],
)
def test_malformed_json_is_bad_input(tmp_path: Path, data: bytes, cause: str) -> None:
    path = _write(tmp_path / "r.json", data)
    with pytest.raises(BadInputError, match=r"r\.json") as caught:
        jsonfile.read_json(path, limit=LIMIT)
    assert cause in caught.value.message


def test_what_is_within_the_bounds_reads() -> None:
    nested = b"[" * 64 + b"]" * 64
    assert jsonfile.parse(nested, source="x") is not None
    big = str(2**63).encode()
    assert jsonfile.parse(b'{"n": ' + big + b', "f": 0.1}', source="x") == {"n": 2**63, "f": 0.1}


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:  # 300 MB, sparse: nothing on disk, all of it readable
        fh.truncate(300_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(BadInputError, match="refused without reading it"):
            jsonfile.read_json(path, limit=LIMIT)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < LIMIT  # not a byte of the 300 MB was read


def test_symlinks_below_the_artifact_are_refused(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside" / "secret.json", b"{}")
    artifact = tmp_path / "artifact"
    (artifact / "results").mkdir(parents=True)
    (artifact / "manifest.json").symlink_to(outside)
    with pytest.raises(BadInputError, match="symbolic link"):
        jsonfile.read_json(artifact / "manifest.json", limit=LIMIT, within=artifact)
    # a linked folder on the way is refused as well
    (artifact / "linked").symlink_to(outside.parent)
    with pytest.raises(BadInputError, match="symbolic link"):
        jsonfile.read_json(artifact / "linked" / "secret.json", limit=LIMIT, within=artifact)
    # the same file, really there, reads
    _write(artifact / "results" / "ok.json", b'{"a": 1}')
    assert jsonfile.read_json(artifact / "results" / "ok.json", limit=LIMIT, within=artifact) == {
        "a": 1
    }


def test_special_files_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer forever
    with pytest.raises(BadInputError, match="not a regular file"):
        jsonfile.read_json(fifo, limit=LIMIT, within=tmp_path)
    with pytest.raises(BadInputError, match="not a regular file"):
        jsonfile.read_json(Path("/dev/zero"), limit=LIMIT)
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(BadInputError, match=r"dir\.json"):
        jsonfile.read_json(tmp_path / "dir.json", limit=LIMIT)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match=r"cannot read .*none\.json: No such file"):
        jsonfile.read_json(tmp_path / "none.json", limit=LIMIT, within=tmp_path)
