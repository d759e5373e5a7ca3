"""The file envelope: magic first, SHA-256 of the rest last, atomic replacement on write."""
from __future__ import annotations

import hashlib
import os

import pytest

from bigdl_runtime.serialization import model_pb2 as pb
from bigdl_runtime.serialization import state_to_bytes
from bigdl_runtime.serialization.framing import atomic_write, unseal


def test_layout_is_one_message_with_magic_first_and_digest_last():
    data = state_to_bytes({"a": 1})
    assert data.startswith(b"\x0a\x13bigdl_runtime.State")
    assert data[-34:-32] == b"\x7a\x20" and data[-32:] == hashlib.sha256(data[:-34]).digest()
    msg = pb.State.FromString(data)
    assert msg.format_version == 1 and msg.sha256 == data[-32:]
    assert unseal(data, pb.State, "bigdl_runtime.State").root == msg.root


def test_missing_format_version_is_rejected():
    body = pb.State(magic="bigdl_runtime.State").SerializeToString()
    with pytest.raises(ValueError, match="no valid format version"):
        unseal(body + b"\x7a\x20" + hashlib.sha256(body).digest(), pb.State, "bigdl_runtime.State")


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "out.bin"
    atomic_write(path, b"old")
    atomic_write(path, b"new contents")
    assert path.read_bytes() == b"new contents"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_failed_write_keeps_the_old_file_and_removes_the_temporary(tmp_path, monkeypatch):
    path = tmp_path / "out.bin"
    atomic_write(path, b"old")

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_the_written_file_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "f.bin", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.bin").stat().st_mode & 0o777 == 0o644
