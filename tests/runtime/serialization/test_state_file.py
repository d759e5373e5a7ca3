"""State files (trainer checkpoints): exact round trips, the runtime RNG resumes, clear errors."""
from __future__ import annotations

import re

import numpy as np
import pytest

from bigdl_runtime.nn import random
from bigdl_runtime.serialization import (load_state, save_model, save_state, state_from_bytes, state_to_bytes)
from bigdl_runtime.serialization import model_pb2 as pb
from bigdl_runtime.serialization.framing import seal
from tests.runtime.serialization.toy_layers import sequential


def _checkpoint() -> dict:
    rng = np.random.default_rng(11)
    return {
        "iteration": 1200, "epoch": 3, "finished": False, "best": None,
        "optimizer": {"name": "Adam", "step": 1200, "lr": 1e-3, "betas": (0.9, 0.999),
                      "m": {"fc1.weight": rng.standard_normal((3, 4)).astype(np.float32)},
                      "v": {"fc1.weight": rng.random((3, 4)).astype(np.float32)}},
        "rng": {"runtime": random.get_state(), "data": np.random.default_rng(5).bit_generator.state},
        "summaries": {"loss": [(1, 2.25), (2, 1.5)], "throughput": np.array([101.5, 99.0])},
    }


def _assert_same(a, b, path="state"):
    assert type(a) is type(b), f"{path}: {type(a)} != {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, path


def test_checkpoint_round_trip_is_exact(tmp_path):
    state = _checkpoint()
    save_state(tmp_path / "ckpt.bin", state)
    _assert_same(load_state(tmp_path / "ckpt.bin"), state)
    assert state_to_bytes(state) == (tmp_path / "ckpt.bin").read_bytes()


def test_the_runtime_rng_resumes_from_a_saved_state():
    random.manual_seed(42)
    random.rng().standard_normal(3)
    data = state_to_bytes({"rng": random.get_state()})
    expected = random.rng().standard_normal(4)
    random.manual_seed(0)
    random.set_state(state_from_bytes(data)["rng"])
    np.testing.assert_array_equal(random.rng().standard_normal(4), expected)


def test_state_must_be_a_dict():
    with pytest.raises(TypeError, match="a state must be a dict, got list"):
        state_to_bytes([1, 2])
    msg = pb.State(magic="bigdl_runtime.State", format_version=1, root=pb.Value(int_value=3))
    with pytest.raises(ValueError, match="state file '<bytes>': the stored state is of type int, not a dict"):
        state_from_bytes(seal(msg))


@pytest.mark.parametrize("mangle, message", [
    (lambda d: d[:-5], "the state file is truncated or corrupted"),
    (lambda d: d[:30], "the state file is truncated or corrupted"),
    (lambda d: d[:10] + bytes([d[10] ^ 1]) + d[11:], "not a bigdl_runtime state file"),
    (lambda d: d[:60] + bytes([d[60] ^ 1]) + d[61:], "checksum mismatch"),
    (lambda d: b"PK\x03\x04" + d, "not a bigdl_runtime state file"),
])
def test_damaged_files_name_the_file(tmp_path, mangle, message):
    path = tmp_path / "ckpt.bin"
    path.write_bytes(mangle(state_to_bytes(_checkpoint())))
    with pytest.raises(ValueError, match=f"state file '{re.escape(str(path))}': .*{message}"):
        load_state(path)


def test_model_file_given_as_state(tmp_path):
    save_model(sequential(), tmp_path / "m.bigdl")
    with pytest.raises(ValueError, match="this is a bigdl_runtime model file, not a state file"):
        load_state(tmp_path / "m.bigdl")
