"""bigdl_runtime.quantize on residual networks: the Add (+ ReLU) fused into the convolution before it, uint8
between the blocks and through max pooling, float32 only where a float layer reads; against the float model,
the numpy fallback, save/load and onnxruntime running the QDQ export."""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

import bigdl_runtime as br
from bigdl_runtime import nn
from bigdl_runtime.kernels import onednn_int8
from bigdl_runtime.kernels import quantize as K
from bigdl_runtime.nn import layers as L


def _conv_bn(x: nn.Node, cin: int, cout: int, k: int, stride: int, name: str, rng, relu: bool = True) -> nn.Node:
    bn = L.BatchNorm2d(cout, name=f"{name}_bn")
    bn.running_mean[...] = rng.normal(0, 0.1, cout)
    bn.running_var[...] = rng.uniform(0.5, 2, cout)
    y = bn(L.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, name=f"{name}_conv")(x))
    return L.ReLU(name=f"{name}_relu")(y) if relu else y


def _block(x: nn.Node, cin: int, cout: int, stride: int, name: str, rng, last=L.ReLU) -> nn.Node:
    h = _conv_bn(_conv_bn(x, cin, cout, 3, stride, f"{name}_1", rng), cout, cout, 3, 1, f"{name}_2", rng,
                 relu=False)
    short = x if stride == 1 and cin == cout else _conv_bn(x, cin, cout, 1, stride, f"{name}_down", rng, relu=False)
    return last(name=f"{name}_out")(L.Add(name=f"{name}_add")(h, short))


def _resnet(rng) -> nn.Graph:
    """A small ResNet: stem, 3x3/2 max pool, an identity block, a projection block ending in ReLU6, global
    average pooling and a linear layer."""
    nn.random.manual_seed(0)
    x = nn.Input(name="image")
    h = L.MaxPool2d(3, stride=2, padding=1, name="pool")(_conv_bn(x, 3, 8, 3, 1, "stem", rng))
    h = _block(h, 8, 8, 1, "b1", rng)
    h = _block(h, 8, 16, 2, "b2", rng, last=L.ReLU6)
    return nn.Graph(x, L.Linear(16, 5, name="fc")(L.Flatten(name="flat")(L.GlobalAvgPool2d(name="gap")(h))))


@pytest.fixture
def resnet_and_data(rng):
    return _resnet(rng).evaluate(), rng.normal(size=(48, 3, 16, 16)).astype(np.float32)


def _uint8_values(model: nn.Graph, x: np.ndarray) -> dict[str, np.dtype]:
    """The dtype of every node's output in one forward of ``model`` (recorded by wrapping each layer)."""
    seen: dict[str, np.dtype] = {}
    for n in model.nodes[1:]:
        def record(*args, _m=n.module, _name=n.name):
            out = type(_m).forward_pass(_m, *args)
            seen[_name] = out[0].dtype
            return out
        n.module.forward_pass = record
        n.module.infer = lambda *args, _m=n.module: _m.forward_pass(*args)[0]
    try:
        model.forward(x)
    finally:
        for n in model.nodes[1:]:
            del n.module.__dict__["forward_pass"], n.module.__dict__["infer"]
    return seen


def test_residual_blocks_stay_uint8_between_their_convolutions(resnet_and_data) -> None:
    net, x = resnet_and_data
    q = br.quantize(net, x[:32])
    kinds = {n.name: type(n.module).__name__ for n in q.nodes[1:]}
    assert kinds == {"stem_conv": "QuantizedConv2d", "pool": "MaxPool2d", "b1_1_conv": "QuantizedConv2d",
                     "b1_2_conv": "QuantizedConvAdd2d", "b2_1_conv": "QuantizedConv2d",
                     "b2_down_conv": "QuantizedConv2d", "b2_2_conv": "QuantizedConvAdd2d",
                     "gap": "GlobalAvgPool2d", "flat": "Flatten", "fc": "QuantizedLinear"}
    dtypes = _uint8_values(q, x[32:])
    assert {k for k, v in dtypes.items() if v == np.uint8} == {"stem_conv", "pool", "b1_1_conv", "b1_2_conv",
                                                                  "b2_1_conv", "b2_down_conv"}
    b1, b2 = q.node("b1_2_conv").module, q.node("b2_2_conv").module
    # the max pool passes the stem's quantisation on; a block's output quantisation is its consumers' input one
    stem = q.node("stem_conv").module
    assert (b1.addend_scale, b1.addend_zero_point) == (stem.output_scale, stem.output_zero_point)
    assert b1.quantized_addend and b1.relu and b1.max_value is None and b2.max_value == 6.0
    down = q.node("b2_down_conv").module
    assert (down.input_scale, down.output_scale) == (b1.output_scale, b2.addend_scale) and down.quantized_input
    assert b2.output_scale is None  # read by the global average pool (float): float32 output
    want, got = net.forward(x[32:]), q.forward(x[32:])
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.9


def test_float_consumers_read_uint8_through_dequantize(rng) -> None:
    """A block output read by an int8 convolution and by a float layer (Sigmoid) is written once as uint8;
    the Sigmoid reads it through a Dequantize."""
    nn.random.manual_seed(1)
    x_in = nn.Input(name="x")
    h = _conv_bn(x_in, 3, 8, 3, 1, "stem", rng)
    out = _block(h, 8, 8, 1, "b", rng)
    side = L.Sigmoid(name="side")(out)
    nxt = L.Conv2d(8, 4, 1, name="next")(out)
    up = L.Conv2d(4, 8, 1, name="up")(nxt)
    g = nn.Graph(x_in, L.Add(name="sum")(L.Flatten()(L.GlobalAvgPool2d()(side)),
                                         L.Flatten()(L.GlobalAvgPool2d()(up)))).evaluate()
    x = rng.normal(size=(24, 3, 8, 8)).astype(np.float32)
    q = br.quantize(g, x)
    deq = q.node("b_2_conv_dequantize").module
    block = q.node("b_2_conv").module
    assert isinstance(deq, L.Dequantize) and (deq.scale, deq.zero_point) == (block.output_scale,
                                                                            block.output_zero_point)
    assert q.node("side").inputs[0][0].name == "b_2_conv_dequantize" and q.node("next").module.quantized_input
    want, got = g.forward(x), q.forward(x)
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


def test_residuals_that_cannot_be_uint8_stay_float(rng) -> None:
    """An Add of a convolution and the graph input (no int8 layer writes it) and a broadcasting Add stay float
    Adds; the results follow the float model."""
    nn.random.manual_seed(2)
    x_in = nn.Input(name="x")
    y = L.ReLU(name="r")(L.Add(name="skip")(L.Conv2d(4, 4, 3, padding=1, name="c1")(x_in), x_in))
    bias = L.GlobalAvgPool2d(name="avg")(y)  # (N, 4, 1, 1): broadcast over the image
    z = L.Add(name="bcast")(L.Conv2d(4, 4, 3, padding=1, name="c2")(y), bias)
    g = nn.Graph(x_in, L.Conv2d(4, 2, 1, name="c3")(z)).evaluate()
    x = rng.normal(size=(16, 4, 6, 6)).astype(np.float32)
    q = br.quantize(g, x)
    kinds = {n.name: type(n.module).__name__ for n in q.nodes[1:]}
    assert kinds["skip"] == "Add" and kinds["bcast"] == "Add" and "QuantizedConvAdd2d" not in kinds.values()
    want, got = g.forward(x), q.forward(x)
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


def test_max_pooling_uint8_is_exact() -> None:
    """Max pooling the uint8 values equals quantising the max-pooled float values (monotone quantisation),
    padding included, in either memory layout."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 5, 9, 9)).astype(np.float32)
    pool = L.MaxPool2d(3, stride=2, padding=1)
    scale, zero_point = np.float32(0.02), np.array(100, np.uint8)
    q = K.quantize_linear(x, scale, zero_point)
    want = K.quantize_linear(pool.forward(x), scale, zero_point)
    got = pool.forward(q)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    nhwc = np.ascontiguousarray(q.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(pool.forward(nhwc), want)


def test_numpy_fallback_save_load_and_onnxruntime_agree(resnet_and_data, tmp_path, monkeypatch) -> None:
    net, x = resnet_and_data
    q = br.quantize(net, x[:32])
    fast = q.forward(x)
    q.save(str(tmp_path / "int8.bigdl"))
    np.testing.assert_array_equal(br.load(str(tmp_path / "int8.bigdl")).evaluate().forward(x), fast)

    model = q.to_onnx(str(tmp_path / "int8.onnx"), (3, 16, 16))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Add") == 2 and ops.count("Clip") == 1  # the fused residual Adds, b2's ReLU6
    adds = [n for n in model.graph.node if n.op_type == "Add"]
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    assert all(producers[a.input[1]] == "DequantizeLinear" for a in adds)  # QDQ Add: the residual quantised
    session = ort.InferenceSession(str(tmp_path / "int8.onnx"), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: x})[0]
    assert np.abs(theirs - fast).max() <= 0.02 * np.abs(fast).max()
    assert (theirs.argmax(1) == fast.argmax(1)).mean() >= 0.95

    def missing(*args, **kwargs):
        raise onednn_int8.Unsupported("test: oneDNN off")

    monkeypatch.setattr(onednn_int8, "conv2d_int8", missing)
    monkeypatch.setattr(onednn_int8, "matmul_int8", missing)
    slow = q.forward(x)  # requantisation ties may round the other way: a step of a few activations
    assert np.abs(slow - fast).max() <= 0.02 * np.abs(fast).max()
    assert (slow.argmax(1) == fast.argmax(1)).mean() >= 0.95


def test_fused_layer_quantises_a_float_residual_and_names_bad_inputs(rng) -> None:
    conv = L.QuantizedConvAdd2d(4, 4, 3, padding=1, input_scale=0.02, input_zero_point=128, relu=True,
                                output_scale=0.05, output_zero_point=0, addend_scale=0.04, addend_zero_point=120,
                                name="fused")
    conv.register_buffer("weight", rng.integers(-127, 128, (4, 4, 3, 3)).astype(np.int8))
    conv.register_buffer("weight_scale", rng.uniform(0.001, 0.01, 4).astype(np.float32))
    x, r = rng.normal(size=(2, 4, 5, 5)).astype(np.float32), rng.normal(size=(2, 4, 5, 5)).astype(np.float32)
    r_q = K.quantize_linear(r, np.float32(0.04), np.array(120, np.uint8))
    plain = L.QuantizedConv2d(4, 4, 3, padding=1, input_scale=0.02, input_zero_point=128, name="plain")
    plain.register_buffer("weight", conv.weight)
    plain.register_buffer("weight_scale", conv.weight_scale)
    ref = np.maximum(plain.forward(x) + np.float32(0.04) * (r_q.astype(np.float32) - 120), 0)
    got = conv.forward(x, r)  # a float residual is quantised with addend_* first
    assert got.dtype == np.uint8
    assert np.abs(got.astype(np.float64) - np.clip(ref / np.float32(0.05), 0, 255)).max() <= 0.5 + 1e-3
    with pytest.raises(ValueError, match="'fused'.*residual must have the output's shape"):
        conv.forward(x, r[:, :2])
    with pytest.raises(ValueError, match="Dequantize.*uint8 output of an int8 layer"):
        L.Dequantize(0.1, 0, name="dq").forward(x)


def test_a_sequential_passes_uint8_through_max_pools(rng) -> None:
    nn.random.manual_seed(4)
    net = nn.Sequential(L.Conv2d(3, 8, 3, padding=1, name="c1"), L.ReLU(), L.MaxPool2d(2),
                        L.Conv2d(8, 8, 3, padding=1, name="c2"), L.ReLU(), L.MaxPool2d(2), L.Flatten(),
                        L.Linear(8 * 4 * 4, 5, name="fc")).evaluate()
    x = rng.normal(size=(32, 3, 16, 16)).astype(np.float32)
    q = br.quantize(net, x)
    assert q.c1.output_scale == q.c2.input_scale and q.c2.quantized_input  # through the max pool
    assert q.c2.output_scale is None  # a Flatten follows its max pool: float32
    want, got = net.forward(x), q.forward(x)
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()


def test_zero_padding_passes_uint8_only_where_zero_is_the_zero_point(rng) -> None:
    """A ResNet option-A shortcut (subsample, pad zero channels) of a ReLU output (zero point 0) stays uint8 into
    the fused Add; zero padding of a signed value (zero point > 0) would not be exact and reads float32."""
    nn.random.manual_seed(5)
    x_in = nn.Input(name="x")
    h = _conv_bn(x_in, 3, 4, 3, 1, "stem", rng)  # ReLU output: zero point 0
    short = L.Pad([0, 2, 0, 0, 0, 2, 0, 0], name="padc")(L.MaxPool2d(1, stride=2, name="sub")(h))
    body = _conv_bn(_conv_bn(h, 4, 8, 3, 2, "b_1", rng), 8, 8, 3, 1, "b_2", rng, relu=False)
    out = L.ReLU(name="b_out")(L.Add(name="b_add")(body, short))
    signed = _conv_bn(out, 8, 8, 3, 1, "signed", rng, relu=False)  # zero point > 0
    padded = L.Pad([0, 0, 1, 1, 0, 0, 1, 1], name="pad_signed")(signed)
    g = nn.Graph(x_in, L.Conv2d(8, 2, 3, name="last")(padded)).evaluate()
    x = rng.normal(size=(24, 3, 8, 8)).astype(np.float32)
    q = br.quantize(g, x)
    fused = q.node("b_2_conv").module
    assert isinstance(fused, L.QuantizedConvAdd2d) and fused.quantized_addend
    assert q.node("last").module.input_zero_point > 0  # the signed value's zero point
    assert q.node("signed_conv").module.output_scale is None  # no consumer takes uint8: float32 straight out
    dtypes = _uint8_values(q, x)
    assert dtypes["sub"] == dtypes["padc"] == np.uint8 and dtypes["pad_signed"] == np.float32
    want, got = g.forward(x), q.forward(x)
    assert np.abs(got - want).max() <= 0.05 * np.abs(want).max()
