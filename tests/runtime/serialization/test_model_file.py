"""Model files round trip: same architecture, weights, buffers, frozen flags, dtypes, outputs, metadata."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import random
from bigdl_runtime.nn.graph import Graph
from bigdl_runtime.nn.sequential import Sequential
from bigdl_runtime.serialization import (load_model, model_from_bytes, model_to_bytes, read_metadata,
                                         save_model)
from tests.runtime.serialization.toy_layers import graph, nested, sequential

BUILDERS = {"sequential": (sequential, 1), "graph": (graph, 1), "nested": (nested, 2)}


def _inputs(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(n)]


def _outputs(model, inputs) -> list[np.ndarray]:
    y = model.forward(*inputs)
    return list(y) if isinstance(y, tuple) else [y]


def _trained(build, n_inputs):
    random.manual_seed(3)
    model = build()
    for _ in range(2):  # move the buffers away from their initial values
        model.forward(*_inputs(n_inputs))
    return model


@pytest.mark.parametrize("name", list(BUILDERS))
def test_round_trip_gives_identical_state_and_outputs(name, tmp_path):
    build, n_inputs = BUILDERS[name]
    model = _trained(build, n_inputs)
    save_model(model, tmp_path / "m.bigdl")
    loaded = load_model(tmp_path / "m.bigdl")
    assert type(loaded) is type(model) and loaded.name == model.name
    original, restored = model.state_dict(), loaded.state_dict()
    assert list(restored) == list(original)
    for key in original:
        assert restored[key].dtype == original[key].dtype, key
        np.testing.assert_array_equal(restored[key], original[key], err_msg=key)
    model.evaluate()
    loaded.evaluate()
    for a, b in zip(_outputs(model, _inputs(n_inputs)), _outputs(loaded, _inputs(n_inputs))):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_bytes_are_deterministic_and_survive_a_second_round_trip(name):
    build, n_inputs = BUILDERS[name]
    model = _trained(build, n_inputs)
    data = model_to_bytes(model, labels=["a", "b"])
    assert model_to_bytes(model, labels=["a", "b"]) == data
    assert model_to_bytes(model_from_bytes(data), labels=["a", "b"]) == data


def test_graph_structure_and_names_are_preserved():
    model = nested()
    loaded = model_from_bytes(model_to_bytes(model))
    assert isinstance(loaded, Graph)
    assert [n.name for n in loaded.nodes] == [n.name for n in model.nodes] == ["a", "b", "block", "side", "sermul_1"]
    assert loaded.input_names == ["a", "b"] and loaded.output_names == ["sermul_1"]
    inner = loaded.node("block").module[0]
    assert isinstance(loaded.node("block").module, Sequential) and isinstance(inner, Graph)
    assert inner.name == "toy" and inner.output_names == ["center", "sersplit_1[0]"]
    assert [n.name for n in inner.nodes] == [n.name for n in model.node("block").module[0].nodes]


def test_frozen_parameters_stay_frozen():
    model = graph().freeze(["fc1"])
    loaded = model_from_bytes(model_to_bytes(model))
    assert {k: p.trainable for k, p in loaded.named_parameters()} == \
        {"fc1.weight": False, "fc1.bias": False, "seraffine_1.weight": True, "seraffine_1.bias": True}


def test_float64_weights_stay_float64():
    model = sequential().astype(np.float64)
    loaded = model_from_bytes(model_to_bytes(model))
    assert {p.data.dtype for p in loaded.parameters()} == {np.dtype(np.float64)}
    assert all(p.grad.dtype == np.float64 and p.grad.shape == p.data.shape for p in loaded.parameters())


def test_python_scalar_buffers_keep_their_type():
    model = _trained(sequential, 1)
    loaded = model_from_bytes(model_to_bytes(model))
    assert loaded[2].steps == 2 and type(loaded[2].steps) is int


def test_metadata_round_trip(tmp_path):
    metadata = {"name": "toy", "labels": ["cat", "dog"], "input_spec": {"shape": [None, 4], "dtype": "float32"},
                "preprocessing": {"mean": np.array([0.5, 0.25], np.float32), "scale": 1 / 255},
                "epochs": 3, "seed": 2 ** 70}
    save_model(sequential(), tmp_path / "m.bigdl", **metadata)
    back = read_metadata(tmp_path / "m.bigdl")
    assert list(back) == list(metadata)
    mean = back["preprocessing"].pop("mean")
    np.testing.assert_array_equal(mean, metadata["preprocessing"].pop("mean"))
    assert mean.dtype == np.float32
    assert back == metadata


def test_module_save_writes_a_model_file(tmp_path):
    model = graph()
    model.save(str(tmp_path / "g.bigdl"), labels=["x"])
    assert read_metadata(str(tmp_path / "g.bigdl")) == {"labels": ["x"]}
    assert isinstance(load_model(str(tmp_path / "g.bigdl")), Graph)


def test_real_layers_round_trip():
    from bigdl_runtime.nn.layers import activation, norm
    from bigdl_runtime.nn.layers import linear as layers

    model = Sequential(layers.Linear(4, 6, name="fc1"), norm.BatchNorm1d(6), activation.ReLU(),
                       layers.Linear(6, 2, bias=False))
    x = _inputs(1)[0]
    model.forward(x)
    loaded = model_from_bytes(model_to_bytes(model))
    model.evaluate()
    loaded.evaluate()
    np.testing.assert_array_equal(loaded.forward(x), model.forward(x))
    assert [type(m).__name__ for m in loaded.children()] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]


def test_a_layer_shared_by_graph_nodes_stays_shared():
    from bigdl_runtime.nn import Add, Conv2d, Input, ReLU

    conv = Conv2d(2, 3, 3, padding=1, name="conv")
    a, b = Input(name="a"), Input(name="b")
    graph = Graph([a, b], Add()(conv(a), ReLU()(conv(b))))
    data = [np.random.default_rng(1).standard_normal((2, 2, 5, 5)).astype(np.float32) for _ in range(2)]
    loaded = model_from_bytes(model_to_bytes(graph))
    assert loaded.node("conv_2").module is loaded.node("conv").module
    assert list(loaded.state_dict()) == ["conv.weight", "conv.bias"]
    np.testing.assert_array_equal(loaded(*data), graph(*data))
