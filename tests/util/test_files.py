"""Atomic writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_tools.util.files import write_atomic


def test_atomic_write_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.json"
    out.write_text("old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("ci_tools.util.files.os.fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(out, "new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
