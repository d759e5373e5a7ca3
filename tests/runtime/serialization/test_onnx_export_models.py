"""Whole models through the ONNX exporter: LeNet-5, a residual Graph, recurrent stacks; names and errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from bigdl_runtime.nn import Graph, Input, Module, Sequential, layers as L
from bigdl_runtime.serialization.onnx_export import UnexportableLayerError, export_onnx, to_onnx_model
from zoo.models.lenet import lenet5
from zoo.models.ncf import ncf
from zoo.models.resnet import resnet_cifar
from zoo.models.text_classifier import text_classifier

from .onnx_export_check import check_export


def _block(x: object, c_in: int, c_out: int, stride: int, name: str) -> object:
    """A ResNet basic block: two 3x3 conv-BN pairs and a residual Add (projection when the shape changes)."""
    h = L.ReLU(name=f"{name}_relu1")(L.BatchNorm2d(c_out, name=f"{name}_bn1")(
        L.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, name=f"{name}_conv1")(x)))
    h = L.BatchNorm2d(c_out, name=f"{name}_bn2")(L.Conv2d(c_out, c_out, 3, padding=1, bias=False,
                                                          name=f"{name}_conv2")(h))
    if stride != 1 or c_in != c_out:
        x = L.BatchNorm2d(c_out, name=f"{name}_down_bn")(
            L.Conv2d(c_in, c_out, 1, stride=stride, bias=False, name=f"{name}_down")(x))
    return L.ReLU(name=f"{name}_out")(L.Add(name=f"{name}_add")(h, x))


def small_resnet(rng: np.random.Generator) -> Graph:
    """A ResNet-style Graph (stem, three basic blocks, global pool, classifier) with random BN statistics."""
    x = Input(name="image")
    h = L.MaxPool2d(3, stride=2, padding=1, name="pool1")(L.ReLU(name="relu1")(L.BatchNorm2d(8, name="bn1")(
        L.Conv2d(3, 8, 5, stride=2, padding=2, bias=False, name="conv1")(x))))
    h = _block(h, 8, 8, 1, "layer1")
    h = _block(h, 8, 16, 2, "layer2")
    h = _block(h, 16, 16, 1, "layer3")
    y = L.Linear(16, 5, name="fc")(L.Flatten(name="flatten")(L.AdaptiveAvgPool2d(1, name="avgpool")(h)))
    g = Graph(x, y)
    for m in g.modules():
        if isinstance(m, L.BatchNorm2d):
            m.running_mean[...] = rng.normal(0, 0.1, m.num_features)
            m.running_var[...] = rng.uniform(0.5, 1.5, m.num_features)
    return g


def test_lenet5(rng: np.random.Generator, tmp_path: object) -> None:
    model = lenet5()
    proto = check_export(model, (1, 28, 28), rng, batches=(1, 4))
    assert {i.name for i in proto.graph.initializer} == set(model.state_dict())
    assert [o.name for o in proto.graph.output] == ["output"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and [d.dim_value for d in dims[1:]] == [1, 28, 28]


def test_to_onnx_writes_a_file(tmp_path: object, rng: np.random.Generator) -> None:
    model = lenet5()
    path = tmp_path / "lenet.onnx"
    model.train()
    model.to_onnx(str(path), (1, 28, 28))
    assert model.training, "export must leave the training flags as they were"
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert {n.name for n in loaded.graph.node} >= {"conv1", "conv2", "fc1", "fc2", "fc3"}


def test_residual_graph(rng: np.random.Generator) -> None:
    proto = check_export(small_resnet(rng), (3, 32, 32), rng, batches=(1, 3))
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Add") == 3 and ops.count("BatchNormalization") == 8
    assert [o.name for o in proto.graph.output] == ["fc"]


@pytest.mark.parametrize("cls", [L.LSTM, L.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_recurrent(cls: type, bidirectional: bool, return_sequences: bool, rng: np.random.Generator) -> None:
    layer = cls(4, 5, num_layers=2, bidirectional=bidirectional, return_sequences=return_sequences)
    check_export(layer, (6, 4), rng)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_time_major_no_bias(nonlinearity: str, rng: np.random.Generator) -> None:
    # time-major: the dynamic first axis is then time, which the ONNX graph leaves free as well
    layer = L.RNN(3, 4, nonlinearity=nonlinearity, bias=False, batch_first=False, bidirectional=True)
    check_export(layer, (2, 3), rng, batches=(2, 5))


def test_text_classifier(rng: np.random.Generator) -> None:
    model = Sequential(L.Embedding(20, 8, name="embed"), L.LSTM(8, 6, bidirectional=True, return_sequences=False,
                                                                  name="lstm"),
                       L.Dropout(0.2), L.Linear(12, 3, name="fc"), L.LogSoftmax(dim=1))
    check_export(model, (7,), rng, high=20)


def test_nested_containers(rng: np.random.Generator) -> None:
    inner = Sequential(L.Linear(4, 6, name="fc"), L.Tanh(), name="inner")
    x = Input(name="x")
    g = Graph(x, L.Sigmoid(name="gate")(inner(x)))
    model = Sequential(g, L.Linear(6, 2, name="head"))
    proto = check_export(model, (4,), rng)
    assert {i.name for i in proto.graph.initializer} == set(model.state_dict())


class _Opaque(Module):
    """A layer without an emitter (private name: stays out of the layer registry)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * 2


def test_unexportable_layer_names_layer_and_type() -> None:
    model = Sequential(L.Linear(3, 3, name="fc"), _Opaque(name="mystery"))
    with pytest.raises(UnexportableLayerError, match=r"layer 'mystery' of type _Opaque cannot be exported"):
        to_onnx_model(model, (3,))


def test_split_on_batch_axis_is_refused() -> None:
    x = Input(name="x")
    parts = L.Split(1, dim=0, name="rows")(x)
    with pytest.raises(UnexportableLayerError, match=r"layer 'rows' of type Split: .*batch"):
        to_onnx_model(Graph(x, parts[0]), (3,))


def test_input_shape_count_must_match(tmp_path: object) -> None:
    a, b = Input(name="a"), Input(name="b")
    with pytest.raises(ValueError, match=r"takes 2 input\(s\) \['a', 'b'\], got 1 input shape"):
        export_onnx(Graph([a, b], L.Add()(a, b)), tmp_path / "x.onnx", (3,))


@pytest.mark.parametrize("network", ["resnet_cifar", "text_classifier", "ncf"])
def test_zoo_networks(network: str, rng: np.random.Generator) -> None:
    if network == "resnet_cifar":
        model, shape, high = resnet_cifar(8, num_classes=4), (3, 16, 16), 10
    elif network == "text_classifier":
        model, shape, high = text_classifier(40, 3, embedding_dim=8, hidden_size=6, rnn="gru", bidirectional=True), (9,), 40
    else:
        model, shape, high = ncf(20, 30, mode="neumf"), [(), ()], 20
    check_export(model, shape, rng, high=high)
