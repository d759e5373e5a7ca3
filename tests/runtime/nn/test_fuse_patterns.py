"""fuse_patterns: exported elementwise patterns (constant arithmetic, bias adds, spelled-out hard-swish) become
single layers with the same outputs, only where no intermediate value is read elsewhere and the values are
4-D float32; fuse_for_inference then runs the whole chain as one blocked segment."""
import numpy as np

from bigdl_runtime.nn import Graph, Input
from bigdl_runtime.nn.fuse import fuse_for_inference
from bigdl_runtime.nn.fuse_patterns import rewrite_patterns
from bigdl_runtime.nn.layers.activation import Hardsigmoid, LeakyReLU
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.elementwise import Add, Div, Mul, Sub
from bigdl_runtime.nn.layers.graph_values import TensorSource
from bigdl_runtime.nn.layers.math import Maximum, ReLU6


def _const(x, value, name):
    return TensorSource.of(np.asarray(value, np.float32), name=name)(x)


def _exported(rng, dtype=np.float32):
    """Paddle- and tf2onnx-style spellings: conv + bias Add, x * ReLU6(x + 3) / 6, x * a + b (a of shape (1,)),
    Maximum(LeakyReLU(x), c), x * Hardsigmoid(x), 1 - x."""
    x = Input(name="x")
    conv = Conv2d(3, 8, 3, padding=1, bias=False, name="conv").astype(dtype)
    h = Add(name="bias")(conv(x), _const(x, rng.standard_normal((1, 8, 1, 1)), "b"))
    h = Div(name="div6")(Mul(name="mul")(h, ReLU6(name="relu6")(Add(name="add3")(h, _const(x, 3.0, "three")))),
                         _const(x, 6.0, "six"))
    h = Add(name="shift")(Mul(name="scale")(h, _const(x, [0.75], "a")), _const(x, -0.5, "b2"))
    h = Maximum(name="max")(LeakyReLU(0.2, name="lrelu")(h), _const(x, [[[[-0.4]]]], "floor"))
    h = Mul(name="hswish")(Hardsigmoid(name="hsig")(h), h)
    y = Sub(name="flip")(_const(x, 1.0, "one"), h)
    return Graph(x, y).evaluate()


def _kinds(graph):
    return [type(n.module).__name__ for n in graph.nodes[1:]]


def test_each_pattern_becomes_one_layer_with_the_same_outputs(rng):
    graph = _exported(rng)
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    rewritten = rewrite_patterns(graph)
    assert _kinds(rewritten) == ["Conv2d", "Hardswish", "Power", "LeakyReLU", "Clip", "Hardswish", "Power"]
    assert rewritten.node("bias").module.bias is not None  # the bias add is the convolution's bias
    assert rewritten.output_names == graph.output_names
    np.testing.assert_allclose(rewritten(x), graph(x), rtol=1e-5, atol=1e-6)
    fused = fuse_for_inference(graph)
    assert _kinds(fused) == ["BlockedSegment"]  # one oneDNN plan from input to output
    np.testing.assert_allclose(fused(x), graph(x), rtol=1e-5, atol=1e-5)


def test_a_value_read_elsewhere_or_not_float32_is_left_alone(rng):
    x = Input(name="x")
    h = Conv2d(3, 4, 1, name="conv")(x)
    plus3 = Add(name="add3")(h, _const(x, 3.0, "three"))
    gate = ReLU6(name="relu6")(plus3)
    y = Div(name="div6")(Mul(name="mul")(h, gate), _const(x, 6.0, "six"))
    graph = Graph(x, [y, plus3]).evaluate()  # x + 3 is also an output: the hard-swish stays spelled out
    kinds = _kinds(rewrite_patterns(graph))
    assert "Hardswish" not in kinds and kinds.count("Power") == 2
    inputs = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    for got, want in zip(rewrite_patterns(graph)(inputs), graph(inputs)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    float64 = _exported(rng, np.float64)  # float64 weights: Add(x, float32 c) and Power could differ in dtype
    assert "Power" not in _kinds(rewrite_patterns(float64))
    raw = Input(name="x")  # a constant added to a graph input (any rank and dtype) is not rewritten
    plain = Graph(raw, Add(name="add")(raw, _const(raw, 1.0, "one"))).evaluate()
    assert rewrite_patterns(plain) is plain


def test_two_affine_maps_in_a_row_become_one_reading_the_same_output_of_a_split(rng):
    from bigdl_runtime.nn.layers.affine import Power
    from bigdl_runtime.nn.layers.shape import Split

    x = Input(name="x")
    parts = Split(2, dim=1, name="split")(x)
    y = Power(1.0, 3.0, 1.0, name="outer")(Power(1.0, 0.5, -2.0, name="inner")(parts[1]))
    graph = Graph(x, y).evaluate()
    merged = rewrite_patterns(graph)
    assert _kinds(merged) == ["Split", "Power"] and merged.node("outer").inputs[0][1] == 1
    data = rng.standard_normal((2, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(merged(data), graph(data), rtol=1e-6, atol=1e-6)
