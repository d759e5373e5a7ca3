"""load_onnx: spatial attributes, opsets 7 to newest, names, parameters, constant folding, the registry."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper, version_converter

from bigdl_runtime.nn import Conv2d, MaxPool2d
from bigdl_runtime.nn.layers.graph_values import ShapeOf, TensorSource
from zoo.importers.onnx import ONNX, load_onnx


def _ort(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    model = onnx.ModelProto.FromString(model.SerializeToString())
    model.ir_version = min(model.ir_version, 10)
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)


def _vi(name: str, shape, elem=TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def _init(name: str, array) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def _opset7_model(rng: np.random.Generator) -> onnx.ModelProto:
    """Ops whose attributes became inputs in later opsets (Pad, Clip, Split, Squeeze/Unsqueeze, ReduceMean)."""
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], kernel_shape=[3, 2], pads=[1, 0, 2, 1], strides=[2, 1]),
        helper.make_node("Pad", ["c"], ["padded"], pads=[0, 0, 0, 1, 0, 0, 1, 0], mode="edge"),
        helper.make_node("Clip", ["padded"], ["r"], min=0.0, max=6.0),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Split", ["p"], ["s1", "s2"], axis=1, split=[1, 3]),
        helper.make_node("ReduceMean", ["s2"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Concat", ["s1", "m"], ["joined"], axis=1),
        helper.make_node("Unsqueeze", ["joined"], ["u"], axes=[1]),
        helper.make_node("Squeeze", ["u"], ["q"], axes=[1]),
        helper.make_node("Reshape", ["q", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "F", "bias"], ["y"], transB=1),
        helper.make_node("Softmax", ["y"], ["z"], axis=1),
    ]
    inits = [_init("W", rng.standard_normal((4, 3, 3, 2)).astype(np.float32)),
             _init("F", rng.standard_normal((6, 2 * 3 * 3)).astype(np.float32)),
             _init("bias", np.full(6, 0.5, np.float32)), _init("shape", np.array([2, -1], np.int64))]
    graph = helper.make_graph(nodes, "opsets", [_vi("x", [2, 3, 9, 6])], [_vi("z", [2, 6])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)])


@pytest.mark.parametrize("opset", range(7, onnx.defs.onnx_opset_version() + 1))
def test_the_same_model_at_every_opset_matches_onnxruntime(opset: int, rng: np.random.Generator) -> None:
    model = version_converter.convert_version(_opset7_model(rng), opset)
    x = rng.standard_normal((2, 3, 9, 6)).astype(np.float32)
    np.testing.assert_allclose(load_onnx(model)(x), _ort(model, {"x": x})[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("auto_pad", ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"])
def test_non_square_kernels_asymmetric_pads_and_auto_pad(auto_pad: str, rng: np.random.Generator) -> None:
    """kernel_shape and pads are H then W (BigDL's old importer read them as W, H)."""
    explicit = auto_pad == "NOTSET"
    conv_pads = {"pads": [2, 0, 1, 3], "dilations": [1, 2]} if explicit else {"auto_pad": auto_pad}
    pool_pads = {"pads": [1, 0, 0, 1]} if explicit else {"auto_pad": auto_pad}
    nodes = [helper.make_node("Conv", ["x", "W", "B"], ["c"], name="conv", kernel_shape=[5, 2], strides=[2, 3],
                              **conv_pads),
             helper.make_node("MaxPool", ["c"], ["y"], name="pool", kernel_shape=[3, 2], strides=[2, 1],
                              ceil_mode=1, **pool_pads)]
    inits = [_init("W", rng.standard_normal((4, 3, 5, 2)).astype(np.float32)),
             _init("B", rng.standard_normal(4).astype(np.float32))]
    model = helper.make_model(helper.make_graph(nodes, "g", [_vi("x", [1, 3, 17, 14])], [_vi("y", None)], inits),
                              opset_imports=[helper.make_opsetid("", 13)])
    net = load_onnx(model, fuse=False)
    assert isinstance(net.node("conv").module, Conv2d) and net.node("conv").module.kernel_size == [5, 2]
    assert isinstance(net.node("pool").module, MaxPool2d)
    x = rng.standard_normal((1, 3, 17, 14)).astype(np.float32)
    np.testing.assert_allclose(net(x), _ort(model, {"x": x})[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(load_onnx(model)(x), _ort(model, {"x": x})[0], rtol=1e-5, atol=1e-5)  # fused


def test_inputs_outputs_names_and_parameters(rng: np.random.Generator) -> None:
    nodes = [helper.make_node("Add", ["a", "w"], ["s"], name="add_weight"),
             helper.make_node("Mul", ["s", "k"], ["p"], name="times_const"),
             helper.make_node("Constant", [], ["k"], value=_init("k", np.float32(3.0))),
             helper.make_node("Sub", ["b", "p"], ["d"], name="minus")]
    nodes = [nodes[2], nodes[0], nodes[1], nodes[3]]
    graph = helper.make_graph(nodes, "g", [_vi("a", [2, 3]), _vi("b", [2, 3])], [_vi("d", None), _vi("p", None)],
                              [_init("w", rng.standard_normal(3).astype(np.float32))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    net = load_onnx(model)
    assert net.input_names == ["a", "b"]
    assert [n.split("[")[0] for n in net.output_names] == ["minus", "times_const"]
    params = dict(net.named_parameters())
    assert params["add_weight/input1.value"].trainable          # an initializer: a weight
    assert not params["times_const/input1.value"].trainable     # a Constant node: frozen
    a, b = rng.standard_normal((2, 2, 3)).astype(np.float32)
    want = _ort(model, {"a": a, "b": b})
    for got, ref in zip(net(a, b), want):
        np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_static_shapes_and_conditions_are_folded(rng: np.random.Generator) -> None:
    then_graph = helper.make_graph([helper.make_node("Relu", ["x"], ["t"])], "then", [], [_vi("t", None)])
    else_graph = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [], [_vi("e", None)])
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "one"], ["channels"], axis=0),
             helper.make_node("Greater", ["channels", "two"], ["cond"]),
             helper.make_node("If", ["cond"], ["branch"], then_branch=then_graph, else_branch=else_graph),
             helper.make_node("ConstantOfShape", ["shape"], ["ones"], value=_init("v", np.ones(1, np.float32))),
             helper.make_node("Add", ["branch", "ones"], ["y"], name="plus_ones")]
    graph = helper.make_graph(nodes, "g", [_vi("x", [2, 3, 4])], [_vi("y", None)],
                              [_init("one", np.array(1, np.int64)), _init("two", np.array(2, np.int64))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    net = load_onnx(model)
    kinds = {type(n.module).__name__ for n in net.nodes if n.module is not None}
    assert kinds == {"ReLU", "Add", "TensorSource"}  # Shape, Gather, Greater, If and ConstantOfShape folded
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(net(x), np.maximum(x, 0) + 1)


def test_dynamic_batch_shapes_stay_in_the_graph(rng: np.random.Generator) -> None:
    nodes = [helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["y"])]
    inits = [_init("zero", np.array(0, np.int64)), _init("axes", np.array([0], np.int64)),
             _init("minus_one", np.array([-1], np.int64))]
    graph = helper.make_graph(nodes, "g", [_vi("x", ["N", 3, 4])], [_vi("y", None)], inits)
    net = load_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert any(isinstance(n.module, ShapeOf) for n in net.nodes)
    for batch in (1, 5):
        assert net(rng.standard_normal((batch, 3, 4)).astype(np.float32)).shape == (batch, 12)


def test_softmax_before_opset_13_normalises_the_flattened_tail(rng: np.random.Generator) -> None:
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=1)], "g", [_vi("x", [2, 3, 4, 5])],
                              [_vi("y", None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    got = load_onnx(model)(x)
    np.testing.assert_allclose(got, _ort(model, {"x": x})[0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got.reshape(2, -1).sum(axis=1), 1.0, rtol=1e-5)


def test_registry_picks_the_newest_converter_at_or_below_the_opset() -> None:
    old, new = ONNX.lookup("Softmax", version=12), ONNX.lookup("Softmax", version=13)
    assert old is not new and ONNX.lookup("Softmax", version=28) is new
    assert ONNX.supported()[("", "Conv")] == [1]
    assert isinstance(TensorSource.of(np.zeros(2, np.float32)), TensorSource)


@pytest.mark.parametrize("mode, ctm", [("cubic", "half_pixel"), ("linear", "asymmetric"), ("nearest", "align_corners")])
def test_resize_by_interpolation_matrices_matches_and_differentiates(mode: str, ctm: str,
                                                                      rng: np.random.Generator) -> None:
    from tests.helpers.gradcheck import check_module

    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode=mode, coordinate_transformation_mode=ctm,
                            nearest_mode="ceil")
    graph = helper.make_graph([node], "g", [_vi("x", [1, 2, 5, 7])], [_vi("y", None)],
                              [_init("sizes", np.array([1, 2, 8, 4], np.int64))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    net = load_onnx(model)
    assert {type(n.module).__name__ for n in net.nodes if n.module is not None} >= {"MatMul"}
    x = rng.standard_normal((1, 2, 5, 7)).astype(np.float32)
    np.testing.assert_allclose(net(x), _ort(model, {"x": x})[0], rtol=1e-5, atol=1e-5)
    check_module(net, [x.astype(np.float64)], check_params=False)


def test_zoo_exports_load_onnx() -> None:
    import zoo

    assert zoo.load_onnx is load_onnx


def test_model_local_functions_are_inlined_and_ai_onnx_domain_accepted(rng: np.random.Generator) -> None:
    body = [helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Neg", ["r"], ["out"])]
    function = helper.make_function("local", "NegRelu", ["a"], ["out"], body,
                                    [helper.make_opsetid("", 17)])
    nodes = [helper.make_node("NegRelu", ["x"], ["h"], domain="local", name="custom"),
             helper.make_node("Abs", ["h"], ["y"], domain="ai.onnx", name="abs")]
    graph = helper.make_graph(nodes, "g", [_vi("x", [2, 3])], [_vi("y", None)])
    model = helper.make_model(graph, functions=[function],
                              opset_imports=[helper.make_opsetid("ai.onnx", 17), helper.make_opsetid("local", 1)])
    x = rng.standard_normal((2, 3)).astype(np.float32)
    np.testing.assert_allclose(load_onnx(model)(x), np.maximum(x, 0))


def test_a_batch_one_export_scores_other_batch_sizes(rng: np.random.Generator) -> None:
    """A static export's Reshape to (1, -1) copies the run-time batch instead of the exported 1."""
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus_one"], ["target"], axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["y"])]
    inits = [_init("zero", np.array(0, np.int64)), _init("axes", np.array([0], np.int64)),
             _init("minus_one", np.array([-1], np.int64)), _init("w", rng.standard_normal((12, 2)).astype(np.float32))]
    graph = helper.make_graph(nodes, "g", [_vi("x", [1, 3, 4])], [_vi("y", [1, 2])], inits)
    net = load_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    assert not any(isinstance(n.module, ShapeOf) for n in net.nodes)  # the static shape was folded
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(net(x), x.reshape(5, 12) @ numpy_helper.to_array(inits[-1]), rtol=1e-5)
