"""Values computed from Shape(...) of a run-time tensor: Pad pads, Slice ends, Expand/Reshape/Tile targets,
ConstantOfShape, Range, Size, equal Split, all evaluated per call and checked against onnxruntime at
several input sizes; gradients flow through the data path."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bigdl_runtime.nn import Expand, Pad, Slice, Tile
from zoo.importers.onnx import load_onnx
from tests.helpers.gradcheck import check_module

ort = pytest.importorskip("onnxruntime")


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value)))


def _model(nodes: list, outputs: list[str], inits: list | None = None, opset: int = 18,
           dims: tuple = ("N", 3, "H", "W")) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))
    outs = [helper.make_empty_tensor_value_info(o) for o in outputs]
    graph = helper.make_graph(nodes, "runtime_shapes", [x], outs, inits or [])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _shape_chain() -> list:
    """h, w (int64 scalars) and their 1-D forms from Shape(x); pad_h = ceil(h / 4) * 4 - h ("SAME" padding)."""
    return [helper.make_node("Shape", ["x"], ["s"]),
            _const("i0", np.array(0)), _const("i2", np.array(2)), _const("i3", np.array(3)),
            _const("four", np.array(4)), _const("three", np.array(3)), _const("ax0", np.array([0])),
            helper.make_node("Gather", ["s", "i0"], ["n"]),
            helper.make_node("Gather", ["s", "i2"], ["h"]),
            helper.make_node("Gather", ["s", "i3"], ["w"]),
            helper.make_node("Add", ["h", "three"], ["h3"]),
            helper.make_node("Div", ["h3", "four"], ["blocks"]),
            helper.make_node("Mul", ["blocks", "four"], ["h_up"]),
            helper.make_node("Sub", ["h_up", "h"], ["pad_h"]),
            helper.make_node("Unsqueeze", ["pad_h", "ax0"], ["pad_h1"]),
            helper.make_node("Unsqueeze", ["h", "ax0"], ["h1"]),
            helper.make_node("Unsqueeze", ["w", "ax0"], ["w1"]),
            helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"])]


def _runtime_model(dims: tuple) -> onnx.ModelProto:
    nodes = _shape_chain() + [
        _const("zeros2", np.zeros(2, np.int64)), _const("one1", np.array([1], np.int64)),
        _const("minus1", np.array([-1], np.int64)), _const("ax2", np.array([2], np.int64)),
        _const("start0", np.array([0], np.int64)),
        # Pad the bottom to a multiple of 4 and one column (pads of axes 2, 3 only), then slice back to (h, w)
        helper.make_node("Concat", ["zeros2", "pad_h1", "one1"], ["pads"], axis=0),
        _const("pad_axes", np.array([2, 3], np.int64)),
        helper.make_node("Pad", ["x", "pads", "", "pad_axes"], ["padded"], mode="reflect"),
        helper.make_node("Concat", ["h1", "w1"], ["hw"], axis=0),
        helper.make_node("Slice", ["padded", "zeros2", "hw", "pad_axes"], ["cropped"]),
        # Expand a per-channel weight to x's shape and multiply
        helper.make_node("Expand", ["scale", "s"], ["scale_full"]),
        helper.make_node("Mul", ["cropped", "scale_full"], ["scaled"]),
        # Reshape to (N, -1), Tile (1, w), ConstantOfShape, Range, Size, equal Split of the run-time width
        helper.make_node("Concat", ["n1", "minus1"], ["flat_shape"], axis=0),
        helper.make_node("Reshape", ["scaled", "flat_shape"], ["flat"]),
        helper.make_node("Concat", ["one1", "w1"], ["reps"], axis=0),
        helper.make_node("Tile", ["flat", "reps"], ["tiled"]),
        helper.make_node("Abs", ["flat_shape"], ["flat_shape_pos"]),
        helper.make_node("ConstantOfShape", ["flat_shape_pos"], ["filled"], value=numpy_helper.from_array(
            np.array([0.5], np.float32))),
        _const("r0", np.array(0, np.int64)), _const("r1", np.array(1, np.int64)),
        helper.make_node("Range", ["r0", "w", "r1"], ["ramp"]),
        helper.make_node("Size", ["x"], ["count"]),
        helper.make_node("Split", ["padded"], ["top", "bottom"], axis=2, num_outputs=2),
    ]
    scale = numpy_helper.from_array(np.array([0.5, -1.0, 2.0], np.float32).reshape(1, 3, 1, 1), "scale")
    return _model(nodes, ["scaled", "tiled", "filled", "ramp", "count", "top", "bottom"], [scale], dims=dims)


@pytest.mark.parametrize("dims", [("N", 3, "H", "W"), (-1, 3, -1, -1), (None, 3, None, None)],
                         ids=["symbolic", "dim_value-1", "unnamed"])
@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 3, 8, 4), (3, 3, 6, 5)])
def test_shapes_computed_per_call_match_onnxruntime(shape, dims, rng: np.random.Generator) -> None:
    """Dynamic axes however declared (a -1 dim_value is unknown, not a size) give run-time shapes."""
    model = _runtime_model(dims)
    net = load_onnx(model)
    computed = {type(m).__name__ for m in net.modules() if isinstance(m, (Pad, Slice, Expand, Tile)) and
                getattr(m, {"Pad": "pads", "Slice": "starts", "Expand": "shape", "Tile": "repeats"}[type(m).__name__])
                is None}
    assert computed == {"Pad", "Slice", "Expand", "Tile"}, "the targets must be computed per call, not folded"
    x = rng.standard_normal(shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    got = net(x)
    assert len(got) == len(want)
    for name, a, b in zip(["scaled", "tiled", "filled", "ramp", "count", "top", "bottom"], got, want):
        assert np.shape(a) == np.shape(b), name
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=name)


def test_gradient_flows_through_the_data_path_of_runtime_shapes(rng: np.random.Generator) -> None:
    """Pad with computed pads, Slice with computed ends, Expand to a computed shape: float64 finite differences."""
    nodes = _shape_chain() + [
        _const("zeros6", np.zeros(6, np.int64)), _const("zeros1", np.zeros(1, np.int64)),
        _const("start0", np.array([0], np.int64)), _const("ax2", np.array([2], np.int64)),
        helper.make_node("Concat", ["zeros6", "pad_h1", "zeros1"], ["pads"], axis=0),
        helper.make_node("Pad", ["x", "pads"], ["padded"], mode="edge"),
        helper.make_node("Expand", ["scale", "s"], ["scale_full"]),
        helper.make_node("Slice", ["padded", "start0", "h1", "ax2"], ["cropped"]),
        helper.make_node("Mul", ["cropped", "scale_full"], ["scaled"]),
        helper.make_node("Tanh", ["padded"], ["y2"]),
    ]
    scale = numpy_helper.from_array(rng.standard_normal((1, 3, 1, 1)).astype(np.float32), "scale")
    net = load_onnx(_model(nodes, ["scaled", "y2"], [scale]))
    check_module(net, [rng.standard_normal((2, 3, 5, 4))])


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_auto_pad_same_with_strides_on_run_time_sizes(auto_pad: str, rng: np.random.Generator) -> None:
    """TF-style exports: Conv and MaxPool with auto_pad SAME and stride 2 on inputs of unknown H and W."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], auto_pad=auto_pad, strides=[2, 2], kernel_shape=[3, 3]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["p"], auto_pad=auto_pad, strides=[2, 2], kernel_shape=[3, 3]),
             helper.make_node("Conv", ["p", "W2"], ["y"], auto_pad=auto_pad, kernel_shape=[2, 2])]
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((2, 4, 2, 2)).astype(np.float32), "W2")]
    model = _model(nodes, ["y"], inits, opset=13)
    net = load_onnx(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 9, 8), (2, 3, 16, 11)]:
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(net(x), session.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5)
    check_module(net, [rng.standard_normal((1, 3, 7, 6))])


@pytest.mark.parametrize("mode, ctm", [("nearest", "asymmetric"), ("linear", "half_pixel"),
                                       ("linear", "align_corners")])
def test_resize_to_a_computed_size_and_clip_to_computed_bounds(mode: str, ctm: str,
                                                               rng: np.random.Generator) -> None:
    """FPN-style: resize x to the size of a second map; log-mel-style: clip at max(x) - 2."""
    nodes = [helper.make_node("Shape", ["x"], ["sx"]), helper.make_node("Shape", ["skip"], ["sk"]),
             _const("s0", np.array([0])), _const("s2", np.array([2])), _const("s4", np.array([4])),
             helper.make_node("Slice", ["sx", "s0", "s2"], ["nc"]),
             helper.make_node("Slice", ["sk", "s2", "s4"], ["hw"]),
             helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
             helper.make_node("Resize", ["x", "", "", "sizes"], ["up"], mode=mode, coordinate_transformation_mode=ctm,
                              nearest_mode="floor"),
             helper.make_node("Add", ["up", "skip"], ["merged"]),
             helper.make_node("ReduceMax", ["merged"], ["top"], keepdims=0),
             _const("two", np.array(2.0, np.float32)),
             helper.make_node("Sub", ["top", "two"], ["floor_"]),
             helper.make_node("Clip", ["merged", "floor_"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "H", "W"])
    skip = helper.make_tensor_value_info("skip", TensorProto.FLOAT, ["N", 3, "H2", "W2"])
    graph = helper.make_graph(nodes, "fpn", [x, skip], [helper.make_empty_tensor_value_info("y")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    net = load_onnx(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for small, big in [((1, 3, 4, 5), (1, 3, 8, 10)), ((2, 3, 3, 3), (2, 3, 7, 5))]:
        a, b = rng.standard_normal(small).astype(np.float32), rng.standard_normal(big).astype(np.float32)
        np.testing.assert_allclose(net(a, b), session.run(None, {"x": a, "skip": b})[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k_from_shape", [True, False])
def test_computed_topk_k_and_gru_sequence_lengths(k_from_shape: bool, rng: np.random.Generator) -> None:
    """TopK with K = min(4, T) computed per call; a bidirectional GRU fed sequence_lens = [T] * N from Shape."""
    hidden = 3
    w = rng.standard_normal((2, 3 * hidden, 4)).astype(np.float32)
    r = rng.standard_normal((2, 3 * hidden, hidden)).astype(np.float32)
    seq = helper.make_tensor_value_info("seq", TensorProto.FLOAT, ["T", "N", 4])
    nodes = [helper.make_node("Shape", ["seq"], ["s"]),
             _const("i0", np.array([0])), _const("i1", np.array([1])), _const("four", np.array([4])),
             helper.make_node("Gather", ["s", "i0"], ["t"]), helper.make_node("Gather", ["s", "i1"], ["n"]),
             helper.make_node("Expand", ["t", "n"], ["lens64"]),
             helper.make_node("Cast", ["lens64"], ["lens"], to=TensorProto.INT32),
             helper.make_node("GRU", ["seq", "W", "R", "", "lens" if k_from_shape else ""], ["y", "y_h"],
                              hidden_size=hidden, direction="bidirectional"),
             helper.make_node("Min", ["t", "four"], ["k"]),
             helper.make_node("ReduceSum", ["y", "i1"], ["summed"], keepdims=0),
             helper.make_node("Transpose", ["summed"], ["per_batch"], perm=[1, 2, 0]),
             helper.make_node("TopK", ["per_batch", "k"], ["top", "where"], axis=-1)]
    inits = [numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")]
    outs = [helper.make_empty_tensor_value_info(o) for o in ("top", "where", "y_h")]
    model = helper.make_model(helper.make_graph(nodes, "gru_topk", [seq], outs, inits),
                              opset_imports=[helper.make_opsetid("", 18)])
    net = load_onnx(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in [(6, 2, 4), (3, 1, 4)]:
        x = rng.standard_normal(shape).astype(np.float32)
        for got, want in zip(net(x), session.run(None, {"seq": x})):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_split_sizes_computed_per_call_glu(rng: np.random.Generator) -> None:
    """GLU on a channel axis of run-time size: Split sizes [C/2, C/2] from Shape, a * sigmoid(b)."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]), _const("i1", np.array(1)), _const("two", np.array(2)),
             _const("ax0", np.array([0])),
             helper.make_node("Gather", ["s", "i1"], ["c"]), helper.make_node("Div", ["c", "two"], ["half"]),
             helper.make_node("Unsqueeze", ["half", "ax0"], ["half1"]),
             helper.make_node("Concat", ["half1", "half1"], ["sizes"], axis=0),
             helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1),
             helper.make_node("Sigmoid", ["b"], ["gate"]), helper.make_node("Mul", ["a", "gate"], ["y"])]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", "C", "T"])
    model = helper.make_model(helper.make_graph(nodes, "glu", [x_info], [helper.make_empty_tensor_value_info("y")]),
                              opset_imports=[helper.make_opsetid("", 13)])
    net = load_onnx(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for shape in [(2, 6, 5), (1, 4, 3)]:
        x = rng.standard_normal(shape).astype(np.float32)
        np.testing.assert_allclose(net(x), session.run(None, {"x": x})[0], rtol=1e-6)
    check_module(net, [rng.standard_normal((2, 4, 3))])


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_nodes_with_per_sample_lengths(op: str, rng: np.random.Generator) -> None:
    """sequence_lens as a graph input (padded batches): each sample runs over its own steps, as onnxruntime
    (time-major only: onnxruntime has no layout=1; the layer test covers batch-first)."""
    hidden, gates = 3, {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    inits = [numpy_helper.from_array(rng.standard_normal((2, gates * hidden, 4)).astype(np.float32), "W"),
             numpy_helper.from_array(rng.standard_normal((2, gates * hidden, hidden)).astype(np.float32), "R"),
             numpy_helper.from_array(rng.standard_normal((2, 2 * gates * hidden)).astype(np.float32), "B")]
    outputs = ["y", "y_h", "y_c"] if op == "LSTM" else ["y", "y_h"]
    node = helper.make_node(op, ["seq", "W", "R", "B", "lens"], outputs, hidden_size=hidden,
                            direction="bidirectional")
    inputs = [helper.make_tensor_value_info("seq", TensorProto.FLOAT, ["T", "N", 4]),
              helper.make_tensor_value_info("lens", TensorProto.INT32, ["N"])]
    model = helper.make_model(helper.make_graph([node], "lengths", inputs,
                                                [helper.make_empty_tensor_value_info(o) for o in outputs], inits),
                              opset_imports=[helper.make_opsetid("", 14)])
    net = load_onnx(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for lens in (np.array([6, 2, 4], np.int32), np.array([6, 6, 6], np.int32)):
        x = rng.standard_normal((6, 3, 4)).astype(np.float32)
        for got, want in zip(net(x, lens), session.run(None, {"seq": x, "lens": lens})):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [18, 12])
def test_inputs_without_a_declared_shape(opset: int, rng: np.random.Generator) -> None:
    """No rank known at import: Flatten and Softmax (before opset 13: over the flattened trailing axes) with
    negative axes, Transpose without perm, Pad (of some axes from opset 18), Conv, BatchNorm."""
    pad = ([_const("pads", np.array([1, 2], np.int64)), _const("axes", np.array([-1], np.int64)),
            helper.make_node("Pad", ["n", "pads", "", "axes"], ["p"], mode="edge")] if opset >= 18 else
           [_const("pads", np.array([0, 0, 0, 1, 0, 0, 0, 2], np.int64)),
            helper.make_node("Pad", ["n", "pads"], ["p"], mode="edge")])
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "scale", "B", "mean", "var"], ["n"]), *pad,
             helper.make_node("Softmax", ["p"], ["s"], axis=-2),
             helper.make_node("Transpose", ["s"], ["t"]),
             helper.make_node("Flatten", ["t"], ["y"], axis=-1)]
    inits = [numpy_helper.from_array(rng.standard_normal((2, 3, 3, 3)).astype(np.float32), "W"),
             numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "scale"),
             numpy_helper.from_array(np.array([0.5, -0.5], np.float32), "B"),
             numpy_helper.from_array(np.array([0.1, 0.2], np.float32), "mean"),
             numpy_helper.from_array(np.array([1.5, 0.5], np.float32), "var")]
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    model = helper.make_model(helper.make_graph(nodes, "no_shape", [x_info], [helper.make_empty_tensor_value_info("y")],
                                                inits), opset_imports=[helper.make_opsetid("", opset)])
    net = load_onnx(model)
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(net(x), want, rtol=1e-5, atol=1e-6)


def test_shapes_set_by_the_values_of_integer_inputs_are_not_folded(rng: np.random.Generator) -> None:
    """Static input shapes, but a shape taken from an int64 input's values: the import-time probe (which feeds
    zeros) must not fold Shape of it."""
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"]),
                              helper.make_node("Neg", ["v"], ["v_out"])], "body",
                             [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                              helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v", TensorProto.FLOAT, None)],
                             [helper.make_tensor_value_info("c_out", TensorProto.BOOL, []),
                              helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    nodes = [helper.make_node("ConstantOfShape", ["dims"], ["ones"],
                              value=numpy_helper.from_array(np.array([1.5], np.float32))),
             _const("two", np.array(2, np.int64)),
             helper.make_node("Loop", ["two", "", "ones"], ["filled"], body=body),  # leaves ONNX inference no shape
             helper.make_node("Shape", ["filled"], ["s"]),
             helper.make_node("Reshape", ["filled", "s"], ["same"]),
             helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
             helper.make_node("ReduceSum", ["same"], ["total"], keepdims=0),
             helper.make_node("Add", ["x", "total"], ["y"])]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
              helper.make_tensor_value_info("dims", TensorProto.INT64, [2])]
    outs = [helper.make_empty_tensor_value_info(o) for o in ("y", "sf")]
    model = helper.make_model(helper.make_graph(nodes, "int_shapes", inputs, outs),
                              opset_imports=[helper.make_opsetid("", 18)])
    net = load_onnx(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for dims in (np.array([2, 3]), np.array([4, 1])):
        x = rng.standard_normal(2).astype(np.float32)
        for got, want in zip(net(x, dims), session.run(None, {"x": x, "dims": dims})):
            np.testing.assert_allclose(got, want, rtol=1e-6)
