"""Atomic writes: the file appears whole with normal permissions, or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from axonnx.files import write_atomically


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_file_gets_normal_permissions(tmp_path):
    target = tmp_path / "out.bin"
    write_atomically(target, lambda temporary: Path(temporary).write_bytes(b"data"))
    assert target.read_bytes() == b"data"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def broken(temporary):
        Path(temporary).write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomically(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
