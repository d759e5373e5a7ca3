"""Every broken model file is a ValueError that names the file and says what is wrong."""
from __future__ import annotations

import hashlib
import re

import pytest

from bigdl_runtime.serialization import (load_model, model_from_bytes, model_to_bytes, read_metadata, save_model,
                                         save_state)
from bigdl_runtime.serialization import model_pb2 as pb
from bigdl_runtime.serialization.framing import seal
from bigdl_runtime.serialization.values import encode_value
from tests.runtime.serialization.toy_layers import graph, sequential


def _write(tmp_path, data: bytes):
    path = tmp_path / "broken.bigdl"
    path.write_bytes(data)
    return path


def _edited(model, edit) -> bytes:
    """A correctly checksummed file whose message was changed by ``edit(msg)``."""
    msg = pb.Model.FromString(model_to_bytes(model))
    msg.ClearField("sha256")
    edit(msg)
    return seal(msg)


def _fails(tmp_path, data: bytes, message: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(ValueError) as info:
        load_model(path)
    assert str(info.value).startswith(f"model file '{path}': "), info.value
    assert re.search(message, str(info.value)), info.value


@pytest.mark.parametrize("cut", [1, 20, 33, 34, 35, 300])
def test_truncated_file(tmp_path, cut):
    data = model_to_bytes(sequential())
    _fails(tmp_path, data[:-cut], "the model file is truncated or corrupted")


@pytest.mark.parametrize("where", [0.3, 0.6, 0.99])
def test_corrupted_byte(tmp_path, where):
    data = bytearray(model_to_bytes(sequential()))
    data[int(len(data) * where)] ^= 0x10
    _fails(tmp_path, bytes(data), r"the model file is truncated or corrupted \(checksum mismatch")


@pytest.mark.parametrize("data", [b"", b"hello world\n", bytes(range(256)), b"\x0a\x05hello"])
def test_not_a_model_file(tmp_path, data):
    _fails(tmp_path, data, "not a bigdl_runtime model file")


def test_state_file_given_as_model(tmp_path):
    save_state(tmp_path / "s.bin", {"iteration": 1})
    with pytest.raises(ValueError, match="this is a bigdl_runtime state file, not a model file"):
        load_model(tmp_path / "s.bin")
    with pytest.raises(ValueError, match=re.escape(f"model file '{tmp_path / 's.bin'}'")):
        read_metadata(tmp_path / "s.bin")


def test_unknown_layer_type_names_type_layer_and_close_types(tmp_path):
    def edit(msg):
        msg.architecture.children[0].type = "SerAfine"
    _fails(tmp_path, _edited(sequential(), edit),
           r"unknown layer type 'SerAfine' \(layer 'fc1' at model\[0\]\); close known types: \['SerAffine'")


def _set_config(msg, key, value):
    config = msg.architecture.graph.nodes[0].layer.config
    entry = next((e for e in config.entries if e.key.string_value == key), None) or config.entries.add()
    entry.key.string_value = key
    encode_value(value, entry.value, key)


@pytest.mark.parametrize("key, value, error", [
    ("in_features", -4, "ValueError: SerAffine: sizes must be positive"),
    ("colour", "red", "TypeError: .*unexpected keyword argument 'colour'"),
])
def test_config_rejected_by_the_constructor_names_the_layer(tmp_path, key, value, error):
    _fails(tmp_path, _edited(graph(), lambda msg: _set_config(msg, key, value)),
           f"cannot build layer 'fc1' at model/fc1 of type SerAffine from config .*{error}")


def test_weight_of_the_wrong_shape_names_both_shapes(tmp_path):
    def edit(msg):
        msg.architecture.children[0].config.entries[1].value.int_value = 5
    _fails(tmp_path, _edited(sequential(), edit),
           re.escape("weight 'fc1.weight' has shape (6, 4) in the file but the model expects (5, 4)"))


def test_missing_weight(tmp_path):
    def edit(msg):
        del msg.weights[1]
    _fails(tmp_path, _edited(sequential(), edit),
           re.escape("weight 'fc1.bias' (shape (6,) in the model) is missing from the file"))


def test_unexpected_and_duplicate_weights(tmp_path):
    def extra(msg):
        record = msg.weights.add(name="fc1.bais")
        record.tensor.CopyFrom(msg.weights[1].tensor)
    _fails(tmp_path, _edited(sequential(), extra),
           re.escape("unexpected weight 'fc1.bais' (shape (6,) in the file): the model has no such tensor; "
                     "close names: ['fc1.bias'"))

    def twice(msg):
        msg.weights.add().CopyFrom(msg.weights[0])
    _fails(tmp_path, _edited(sequential(), twice), "weight 'fc1.weight' appears twice")


def test_malformed_weight_bytes(tmp_path):
    def edit(msg):
        msg.weights[0].tensor.data = msg.weights[0].tensor.data[:-4]
    _fails(tmp_path, _edited(sequential(), edit), "weight 'fc1.weight': tensor of dtype float32 and shape")


def test_newer_format_version(tmp_path):
    def edit(msg):
        msg.format_version = 2
    _fails(tmp_path, _edited(sequential(), edit), "the model file has format version 2, newer than this runtime")


def test_unknown_fields(tmp_path):
    msg = pb.Model.FromString(model_to_bytes(sequential()))
    msg.ClearField("sha256")
    body = msg.SerializeToString() + b"\x98\x01\x07"  # field 19, varint 7: not in model.proto
    _fails(tmp_path, body + b"\x7a\x20" + hashlib.sha256(body).digest(), r"unknown fields \[19\] in Model")


def test_graph_with_a_cycle(tmp_path):
    def edit(msg):
        msg.architecture.graph.nodes[0].inputs[0].node = "sermul_1"
    _fails(tmp_path, _edited(graph(), edit), "the nodes form a cycle")


def test_graph_edge_to_an_unknown_node(tmp_path):
    def edit(msg):
        msg.architecture.graph.outputs[1].node = "sersplit_9"
    _fails(tmp_path, _edited(graph(), edit), "output of the graph at model refers to unknown node 'sersplit_9'")


@pytest.mark.parametrize("keep_layer, shares, message", [
    (False, "nowhere", "shares the layer of 'nowhere', which is not an earlier layer node"),
    (True, "input_1", "has a layer and shares node 'input_1''s"),
])
def test_graph_node_sharing_a_layer_it_cannot(tmp_path, keep_layer, shares, message):
    def edit(msg):
        node = msg.architecture.graph.nodes[1]
        if not keep_layer:
            node.ClearField("layer")
        node.shares = shares
    _fails(tmp_path, _edited(graph(), edit), message)


def test_children_on_a_plain_layer(tmp_path):
    def edit(msg):
        msg.architecture.children[1].children.add(type="SerTanh")
    _fails(tmp_path, _edited(sequential(), edit), "only Sequential, Graph and control-flow records may have children")


def test_unsupported_values_fail_at_save_and_leave_the_old_file(tmp_path):
    path = tmp_path / "m.bigdl"
    save_model(sequential(), path, labels=["a"])
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"metadata\['bad'\]: cannot store a value of type object"):
        save_model(sequential(), path, bad=object())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bigdl"]


def test_layer_class_shadowed_in_the_registry_cannot_be_saved():
    from bigdl_runtime.nn import Module

    def make():
        class SerShadowed(Module):
            pass
        return SerShadowed

    first, second = make(), make()
    with pytest.raises(TypeError, match="the layer registry maps 'SerShadowed' to .*two layer classes share a name"):
        model_to_bytes(first())
    assert type(model_from_bytes(model_to_bytes(second()))) is second
