"""Loading never unpickles and never runs code named by a file: crafted payloads only ever fail."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from bigdl_runtime.serialization import (load_model, load_state, model_from_bytes, model_to_bytes, read_metadata,
                                         state_from_bytes, state_to_bytes)
from bigdl_runtime.serialization import model_pb2 as pb
from bigdl_runtime.serialization.framing import seal
from tests.runtime.serialization.toy_layers import graph


class _Payload:
    """Unpickling this creates the marker file: proof that something unpickled it."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("reader", [load_model, load_state, read_metadata])
def test_a_pickle_file_is_rejected_without_being_run(tmp_path, reader):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.bigdl"
    path.write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(ValueError, match="not a bigdl_runtime"):
        reader(path)
    assert not marker.exists()


def test_an_object_array_holding_a_pickle_is_rejected(tmp_path):
    marker = tmp_path / "pwned"
    msg = pb.Model.FromString(model_to_bytes(graph()))
    msg.ClearField("sha256")
    msg.weights[0].tensor.dtype = "object"
    msg.weights[0].tensor.data = pickle.dumps(np.array([_Payload(str(marker))], dtype=object))
    with pytest.raises(ValueError, match="weight 'fc1.weight': unsupported tensor dtype 'object'"):
        model_from_bytes(seal(msg))
    state = pb.State.FromString(state_to_bytes({"x": np.zeros(1)}))
    state.ClearField("sha256")
    state.root.map_value.entries[0].value.tensor_value.dtype = "O"
    with pytest.raises(ValueError, match="unsupported tensor dtype 'O'"):
        state_from_bytes(seal(state))
    assert not marker.exists()


@pytest.mark.parametrize("type_name", ["os.system", "builtins.eval", "posix.system", "subprocess.Popen"])
def test_layer_types_are_only_looked_up_in_the_registry(type_name):
    msg = pb.Model.FromString(model_to_bytes(graph()))
    msg.ClearField("sha256")
    msg.architecture.graph.nodes[0].layer.type = type_name
    with pytest.raises(ValueError, match=f"unknown layer type '{type_name}'"):
        model_from_bytes(seal(msg))


def test_pickle_bytes_in_metadata_stay_inert_bytes(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Payload(str(marker)))
    (tmp_path / "m.bigdl").write_bytes(model_to_bytes(graph(), blob=payload))
    assert read_metadata(tmp_path / "m.bigdl") == {"blob": payload}
    assert not marker.exists()


def test_save_and_load_work_with_pickle_disabled(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("load", "loads", "dump", "dumps", "Unpickler", "Pickler"):
        monkeypatch.setattr(pickle, name, refuse)
    state = {"w": np.ones((2, 2), np.float32), "rng": np.random.default_rng(1).bit_generator.state}
    assert state_from_bytes(state_to_bytes(state))["rng"] == state["rng"]
    model = model_from_bytes(model_to_bytes(graph(), mean=np.zeros(3)))
    assert list(model.state_dict()) == list(graph().state_dict())
