"""If on a computed condition, Loop with a computed trip count, Scan: against onnxruntime, gradients, saving."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import bigdl_runtime
from bigdl_runtime.nn.layers.control_flow import IfElse
from tests.helpers.gradcheck import check_module
from zoo.importers.onnx import OnnxImportError, UnsupportedOperatorError, load_onnx

ort = pytest.importorskip("onnxruntime")


def _vi(name: str, shape, elem=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _run(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _if_model(rng: np.random.Generator) -> onnx.ModelProto:
    """y = x @ W * t if sum(x) > 0 else x - t (both branches read the outer x, t and W); a nested If in then."""
    then = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Mul", ["xw", "t"], ["prod"]),
         helper.make_node("ReduceMax", ["t"], ["tmax"], keepdims=0),
         helper.make_node("Greater", ["tmax", "zero"], ["inner_cond"]),
         helper.make_node("If", ["inner_cond"], ["then_y"],
                          then_branch=helper.make_graph([helper.make_node("Tanh", ["prod"], ["a"])], "in_then", [],
                                                        [_vi("a", None)]),
                          else_branch=helper.make_graph([helper.make_node("Neg", ["prod"], ["b"])], "in_else", [],
                                                        [_vi("b", None)]))],
        "then", [], [_vi("then_y", None)])
    other = helper.make_graph([helper.make_node("Sub", ["x", "t"], ["else_y"])], "else", [], [_vi("else_y", None)])
    nodes = [helper.make_node("ReduceSum", ["x"], ["total"], keepdims=0),
             helper.make_node("Greater", ["total", "zero"], ["cond"]),
             helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)]
    inits = [numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), "W"),
             numpy_helper.from_array(np.array(0.0, np.float32), "zero")]
    graph = helper.make_graph(nodes, "if", [_vi("x", ["N", 4]), _vi("t", ["N", 4])], [_vi("y", None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_if_on_a_computed_condition_matches_onnxruntime(sign: float, rng: np.random.Generator, tmp_path) -> None:
    model = _if_model(rng)
    net = load_onnx(model)
    assert any(isinstance(m, IfElse) for m in net.modules())
    x = (np.abs(rng.standard_normal((3, 4))) * sign).astype(np.float32)
    for t in (rng.standard_normal((3, 4)).astype(np.float32), -np.abs(rng.standard_normal((3, 4))).astype(np.float32)):
        want = _run(model, {"x": x, "t": t})[0]
        np.testing.assert_allclose(net(x, t), want, rtol=1e-5, atol=1e-6)
    net.save(str(tmp_path / "if.bigdl"))
    np.testing.assert_array_equal(bigdl_runtime.load(str(tmp_path / "if.bigdl"))(x, t), net(x, t))


def test_if_gradient_reaches_inputs_and_outer_weights(rng: np.random.Generator) -> None:
    net = load_onnx(_if_model(rng))
    x, t = np.abs(rng.standard_normal((2, 4))), rng.standard_normal((2, 4))
    check_module(net, [x, t])


def _loop_model(rng: np.random.Generator) -> onnx.ModelProto:
    """h <- tanh(h @ W + x) for as many steps as x has rows (trip count from Shape); scan output h * i."""
    body = helper.make_graph(
        [helper.make_node("MatMul", ["h_in", "W"], ["hw"]), helper.make_node("Add", ["hw", "x"], ["pre"]),
         helper.make_node("Tanh", ["pre"], ["h_out"]), helper.make_node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["h_out", "fi"], ["scan"]), helper.make_node("Identity", ["c_in"], ["c_out"])],
        "body", [_vi("i", [], TensorProto.INT64), _vi("c_in", [], TensorProto.BOOL), _vi("h_in", None)],
        [_vi("c_out", [], TensorProto.BOOL), _vi("h_out", None), _vi("scan", None)])
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["trips"]),
             helper.make_node("Loop", ["trips", "", "h0"], ["h", "steps"], body=body)]
    inits = [numpy_helper.from_array((rng.standard_normal((4, 4)) * 0.5).astype(np.float32), "W"),
             numpy_helper.from_array(np.array(0, np.int64), "zero")]
    graph = helper.make_graph(nodes, "loop", [_vi("x", ["N", 4]), _vi("h0", ["N", 4])],
                              [_vi("h", None), _vi("steps", None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])


def test_loop_with_a_computed_trip_count_matches_onnxruntime_and_gradients(rng: np.random.Generator) -> None:
    model = _loop_model(rng)
    net = load_onnx(model)
    for n in (1, 3):
        x, h0 = rng.standard_normal((n, 4)).astype(np.float32), rng.standard_normal((n, 4)).astype(np.float32)
        for got, want in zip(net(x, h0), _run(model, {"x": x, "h0": h0})):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    check_module(net, [rng.standard_normal((2, 4)), rng.standard_normal((2, 4))])


def _scan_model() -> onnx.ModelProto:
    """Running sum over axis 1 of x (N, T, 3), read backwards; outputs the final sum and each partial (axis 1)."""
    body = helper.make_graph(
        [helper.make_node("Add", ["acc_in", "x_t"], ["acc_out"]), helper.make_node("Sigmoid", ["acc_out"], ["y_t"])],
        "body", [_vi("acc_in", ["N", 3]), _vi("x_t", ["N", 3])], [_vi("acc_out", ["N", 3]), _vi("y_t", ["N", 3])])
    node = helper.make_node("Scan", ["acc0", "x"], ["acc", "ys"], body=body, num_scan_inputs=1,
                            scan_input_axes=[1], scan_input_directions=[1], scan_output_axes=[1])
    graph = helper.make_graph([node], "scan", [_vi("acc0", ["N", 3]), _vi("x", ["N", "T", 3])],
                              [_vi("acc", None), _vi("ys", None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])


def test_scan_matches_onnxruntime_and_gradients(rng: np.random.Generator) -> None:
    model = _scan_model()
    net = load_onnx(model)
    acc0, x = rng.standard_normal((2, 3)).astype(np.float32), rng.standard_normal((2, 5, 3)).astype(np.float32)
    for got, want in zip(net(acc0, x), _run(model, {"acc0": acc0, "x": x})):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    check_module(net, [rng.standard_normal((2, 3)), rng.standard_normal((2, 4, 3))])


def test_a_bad_branch_names_the_if_node() -> None:
    then = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["a"])], "then", [], [_vi("a", None)])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["b"])], "else", [], [_vi("b", None)])
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], keepdims=0),
             helper.make_node("Cast", ["s"], ["c"], to=TensorProto.BOOL),
             helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other, name="choose")]
    graph = helper.make_graph(nodes, "bad", [_vi("x", ["N", 2])], [_vi("y", None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(UnsupportedOperatorError, match="node 'choose' \\(If\\): then: .*NoSuchOp"):
        load_onnx(model)
    other_missing = helper.make_graph([helper.make_node("Neg", ["nowhere"], ["b"])], "else", [], [_vi("b", None)])
    nodes[-1] = helper.make_node("If", ["c"], ["y"], then_branch=other, else_branch=other_missing, name="choose")
    with pytest.raises(OnnxImportError, match="node 'choose' \\(If\\).*'nowhere'"):
        load_onnx(helper.make_model(helper.make_graph(nodes, "bad", [_vi("x", ["N", 2])], [_vi("y", None)]),
                                    opset_imports=[helper.make_opsetid("", 17)]))


def test_loop_body_without_declared_shapes_takes_them_from_the_initial_values(rng: np.random.Generator) -> None:
    """A body whose carried input declares no shape still gets its rank (Transpose without perm needs it)."""
    body = helper.make_graph(
        [helper.make_node("Transpose", ["v_in"], ["t"]), helper.make_node("Transpose", ["t"], ["back"]),
         helper.make_node("Add", ["back", "x"], ["v_out"]), helper.make_node("Identity", ["c_in"], ["c_out"])],
        "body", [_vi("i", [], TensorProto.INT64), _vi("c_in", [], TensorProto.BOOL), _vi("v_in", None)],
        [_vi("c_out", None, TensorProto.BOOL), _vi("v_out", None)])
    nodes = [helper.make_node("Loop", ["trips", "", "x"], ["v"], body=body)]
    graph = helper.make_graph(nodes, "loop", [_vi("x", ["N", 3])], [_vi("v", None)],
                              [numpy_helper.from_array(np.array(3, np.int64), "trips")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(load_onnx(model)(x), _run(model, {"x": x})[0], rtol=1e-6)


def test_loop_with_only_scan_outputs(rng: np.random.Generator) -> None:
    """No loop-carried values (inputs ``M, ""``): the body's per-iteration outputs stacked, N times."""
    body = helper.make_graph([helper.make_node("Identity", ["c"], ["c_out"]),
                              helper.make_node("Mul", ["x", "x"], ["sq"])], "body",
                             [_vi("i", [], TensorProto.INT64), _vi("c", [], TensorProto.BOOL)],
                             [_vi("c_out", [], TensorProto.BOOL), _vi("sq", None)])
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Gather", ["s", "zero"], ["m"]),
             helper.make_node("Loop", ["m", ""], ["ys"], body=body)]
    graph = helper.make_graph(nodes, "loop", [_vi("x", ["N"])], [_vi("ys", None)],
                              [numpy_helper.from_array(np.array(0, np.int64), "zero")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])
    x = rng.standard_normal(3).astype(np.float32)
    np.testing.assert_allclose(load_onnx(model)(x), _run(model, {"x": x})[0], rtol=1e-6)
