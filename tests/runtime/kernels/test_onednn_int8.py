"""oneDNN's int8 convolutions and matmuls against a plain integer reference (exact), their fused float32
output, requantisation and ReLU, and the ONNX quantised operators routed through them (identical to
onnxruntime)."""
import numpy as np
import pytest

from bigdl_runtime import nn
from bigdl_runtime.kernels import onednn_int8 as Q
from bigdl_runtime.kernels import quantize as K
from bigdl_runtime.kernels.conv import conv2d_forward
from bigdl_runtime.kernels.conv_geometry import ConvGeometry
from tests.helpers.onnx_ref import run_node_ort

pytestmark = pytest.mark.skipif(not Q.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")

RNG = np.random.default_rng(0)

CASES = [  # x shape, w shape, stride, padding, dilation, groups
    ((2, 16, 9, 9), (32, 16, 3, 3), 1, 1, 1, 1),
    ((2, 3, 8, 7), (5, 3, 3, 3), 2, (1, 0, 2, 1), 1, 1),       # 3 channels (a first layer), asymmetric pads
    ((2, 16, 8, 8), (16, 1, 3, 3), 1, 1, 1, 16),               # depthwise
    ((2, 8, 8, 8), (16, 4, 3, 3), 1, 1, 1, 2),                 # grouped
    ((1, 64, 14, 14), (64, 64, 1, 1), 1, 0, 1, 1),             # 1x1
    ((2, 6, 11, 10), (8, 6, 5, 3), (2, 1), (2, 1), (1, 2), 1),  # non-square kernel, strides, dilation
]


def integer_conv(x: np.ndarray, w: np.ndarray, x_zero_point: int, stride, padding, dilation, groups) -> np.ndarray:
    """The reference: the float64 convolution of ``x - x_zero_point`` by ``w`` (exact integers), as int32."""
    y, _ = conv2d_forward(x.astype(np.float64) - x_zero_point, w.astype(np.float64), None, stride=stride,
                          padding=padding, dilation=dilation, groups=groups)
    return np.rint(y).astype(np.int32)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES)
@pytest.mark.parametrize("x_dtype, x_zero_point", [(np.uint8, 0), (np.uint8, 131), (np.int8, -5)])
def test_conv_accumulator_is_exact(x_shape, w_shape, stride, padding, dilation, groups, x_dtype,
                                   x_zero_point) -> None:
    info = np.iinfo(x_dtype)
    x = RNG.integers(info.min, info.max + 1, x_shape).astype(x_dtype)
    w = RNG.integers(-128, 128, w_shape).astype(np.int8)
    geo = ConvGeometry(x_shape, w_shape, stride, padding, dilation, groups)
    got = Q.conv2d_int8(x, w, geo, x_zero_point=x_zero_point, y_dtype=np.int32)
    np.testing.assert_array_equal(got, integer_conv(x, w, x_zero_point, stride, padding, dilation, groups))


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES[:4])
@pytest.mark.parametrize("relu", [False, True, 6.0])
def test_conv_fused_scales_bias_relu_and_requantisation(x_shape, w_shape, stride, padding, dilation, groups,
                                                        relu) -> None:
    x = RNG.integers(0, 256, x_shape).astype(np.uint8)
    w = RNG.integers(-127, 128, w_shape).astype(np.int8)
    geo = ConvGeometry(x_shape, w_shape, stride, padding, dilation, groups)
    x_scale, w_scale = 0.02, RNG.uniform(0.001, 0.01, w_shape[0]).astype(np.float32)
    bias = RNG.normal(size=w_shape[0]).astype(np.float32)
    quant = dict(x_scale=x_scale, x_zero_point=17, w_scale=w_scale, bias=bias, relu=relu)
    acc = integer_conv(x, w, 17, stride, padding, dilation, groups).astype(np.float64)
    want = acc * (np.float32(x_scale) * w_scale.astype(np.float64)).reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)
    want = want if relu is False else np.clip(want, 0, None if relu is True else relu)
    y = Q.conv2d_int8(x, w, geo, **quant)
    assert y.dtype == np.float32 and y.flags.c_contiguous
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    y_q = Q.conv2d_int8(x, w, geo, **quant, y_scale=0.05, y_zero_point=3, y_dtype=np.uint8)
    assert y_q.dtype == np.uint8 and y_q.shape == want.shape
    exact = want / np.float32(0.05) + 3  # ties of the rounding may go either way: one step at most
    assert np.abs(y_q - np.clip(exact, 0, 255)).max() <= 0.5 + 1e-3
    y_s8 = Q.conv2d_int8(x, w, geo, **quant, y_scale=0.05, y_dtype=np.int8)
    assert np.abs(y_s8 - np.clip(want / np.float32(0.05), -128, 127)).max() <= 0.5 + 1e-3


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation, groups", CASES[:4])
@pytest.mark.parametrize("relu", [False, True, 6.0])
def test_conv_sum_post_op_adds_a_residual_of_its_own_quantisation(x_shape, w_shape, stride, padding, dilation,
                                                                   groups, relu) -> None:
    """y = relu(acc * x_scale * w_scale + bias + r_scale * (r_q - r_zero_point)), requantised: a uint8 residual
    summed where it lies in the destination; a float32 output takes a float32 residual."""
    x = RNG.integers(0, 256, x_shape).astype(np.uint8)
    w = RNG.integers(-127, 128, w_shape).astype(np.int8)
    geo = ConvGeometry(x_shape, w_shape, stride, padding, dilation, groups)
    w_scale = RNG.uniform(0.001, 0.01, w_shape[0]).astype(np.float32)
    bias = RNG.normal(size=w_shape[0]).astype(np.float32)
    quant = dict(x_scale=0.02, x_zero_point=17, w_scale=w_scale, bias=bias, relu=relu)
    acc = integer_conv(x, w, 17, stride, padding, dilation, groups).astype(np.float64)
    conv = acc * (np.float32(0.02) * w_scale.astype(np.float64)).reshape(1, -1, 1, 1) + bias.reshape(1, -1, 1, 1)
    clip = (lambda v: v) if relu is False else (lambda v: np.clip(v, 0, None if relu is True else relu))
    r_q = RNG.integers(0, 256, conv.shape).astype(np.uint8)
    r_q_before = r_q.copy()
    y_q = Q.conv2d_int8(x, w, geo, **quant, y_scale=0.05, y_zero_point=3, y_dtype=np.uint8, addend=r_q,
                        addend_scale=0.03, addend_zero_point=120)
    exact = clip(conv + np.float32(0.03) * (r_q.astype(np.float64) - 120)) / np.float32(0.05) + 3
    assert y_q.dtype == np.uint8 and y_q.strides[1] == 1  # channels last, as every uint8 output
    assert np.abs(y_q - np.clip(exact, 0, 255)).max() <= 0.5 + 1e-3  # ties may round either way
    np.testing.assert_array_equal(r_q, r_q_before)  # the residual is copied, not written into
    r = RNG.normal(size=conv.shape).astype(np.float32)
    y = Q.conv2d_int8(x, w, geo, **quant, addend=r)
    want = clip(conv + r)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_a_residual_of_another_shape_or_type_is_refused() -> None:
    x = np.zeros((1, 2, 4, 4), np.uint8)
    w = np.zeros((3, 2, 1, 1), np.int8)
    geo = ConvGeometry(x.shape, w.shape, 1, 0, 1, 1)
    with pytest.raises(ValueError, match="addend must have the output's shape"):
        Q.conv2d_int8(x, w, geo, addend=np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="addend has the output's type"):
        Q.conv2d_int8(x, w, geo, addend=np.zeros((1, 3, 4, 4), np.uint8))


def test_quantised_output_feeds_the_next_convolution_as_it_lies() -> None:
    """A u8 output is a (N, C, H, W) view of NHWC memory; the next convolution reads it as is, and a copy in
    C order gives the same result."""
    x = RNG.integers(0, 256, (2, 16, 8, 8)).astype(np.uint8)
    w1, w2 = (RNG.integers(-127, 128, (16, 16, 3, 3)).astype(np.int8) for _ in range(2))
    geo = ConvGeometry(x.shape, w1.shape, 1, 1, 1, 1)
    mid = Q.conv2d_int8(x, w1, geo, x_scale=0.02, w_scale=0.003, y_scale=0.1, y_dtype=np.uint8, relu=True)
    assert not mid.flags.c_contiguous and mid.strides[1] == 1  # channels last in memory
    out = Q.conv2d_int8(mid, w2, geo, x_scale=0.1, w_scale=0.003, y_dtype=np.int32)
    np.testing.assert_array_equal(out, Q.conv2d_int8(np.ascontiguousarray(mid), w2, geo, y_dtype=np.int32))
    np.testing.assert_array_equal(out, integer_conv(mid, w2, 0, 1, 1, 1, 1))


def test_float_input_is_quantised_on_the_way_in_as_quantize_linear() -> None:
    x = RNG.normal(size=(2, 8, 6, 6)).astype(np.float32)
    x[0, 0, 0, :4] = [0.0125, 0.0375, -0.0125, 10.0]  # ties (x_scale 0.025) and saturation
    w = RNG.integers(-127, 128, (4, 8, 3, 3)).astype(np.int8)
    geo = ConvGeometry(x.shape, w.shape, 1, 1, 1, 1)
    for dtype, zero_point in ((np.uint8, 128), (np.int8, 0)):
        q = K.quantize_linear(x, np.float32(0.025), np.array(zero_point, dtype))
        from_float = Q.conv2d_int8(x, w, geo, x_scale=0.025, x_zero_point=zero_point, x_dtype=dtype,
                                   w_scale=0.01)
        from_q = Q.conv2d_int8(q, w, geo, x_scale=0.025, x_zero_point=zero_point, w_scale=0.01)
        np.testing.assert_array_equal(from_float, from_q)


@pytest.mark.parametrize("m, k, n", [(33, 70, 20), (1, 400, 120), (64, 84, 10)])
def test_matmul_accumulator_is_exact_and_fused_output_close(m, k, n) -> None:
    a = RNG.integers(0, 256, (m, k)).astype(np.uint8)
    w = RNG.integers(-128, 128, (n, k)).astype(np.int8)  # a Linear weight, passed transposed
    want = (a.astype(np.int64) - 9) @ w.T.astype(np.int64)
    np.testing.assert_array_equal(Q.matmul_int8(a, w.T, x_zero_point=9, y_dtype=np.int32), want)
    w_scale, bias = RNG.uniform(0.001, 0.01, n).astype(np.float32), RNG.normal(size=n).astype(np.float32)
    y = Q.matmul_int8(a, w.T, x_scale=0.03, x_zero_point=9, w_scale=w_scale, bias=bias, relu=True)
    np.testing.assert_allclose(y, np.maximum(want * (np.float32(0.03) * w_scale.astype(np.float64)) + bias, 0),
                               rtol=1e-5, atol=1e-4)


def test_bad_operands_raise_clear_errors() -> None:
    x = np.zeros((1, 2, 4, 4), np.uint8)
    geo = ConvGeometry(x.shape, (2, 2, 1, 1), 1, 0, 1, 1)
    with pytest.raises(ValueError, match="weights must be int8"):
        Q.conv2d_int8(x, np.zeros((2, 2, 1, 1), np.uint8), geo)
    with pytest.raises(ValueError, match="needs y_scale"):
        Q.conv2d_int8(x, np.zeros((2, 2, 1, 1), np.int8), geo, y_dtype=np.uint8)
    with pytest.raises(ValueError, match="uint8 or int8 activations"):
        Q.conv2d_int8(x.astype(np.int16), np.zeros((2, 2, 1, 1), np.int8), geo)


def test_onnx_quantised_operators_use_onednn_and_match_onnxruntime(monkeypatch) -> None:
    """QLinearConv / ConvInteger / QLinearMatMul / MatMulInteger with int8 symmetric weights run on oneDNN
    (counted) and give onnxruntime's integers exactly; so do uint8 weights (as int8 ``w - 128``)."""
    calls = []
    for name in ("conv2d_int8", "matmul_int8"):
        real = getattr(Q, name)
        monkeypatch.setattr(Q, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    x = RNG.integers(0, 256, (2, 8, 9, 7)).astype(np.uint8)
    w = RNG.integers(-127, 128, (6, 8, 3, 3)).astype(np.int8)
    w_scale, w_zero = RNG.uniform(0.001, 0.01, 6).astype(np.float32), np.zeros(6, np.int8)
    bias = RNG.integers(-3000, 3000, 6).astype(np.int32)
    attrs = dict(strides=[2, 1], pads=[1, 0, 1, 1])
    config = dict(stride=[2, 1], padding=[1, 0, 1, 1])
    inputs = [x, np.float32(0.02), np.array(128, np.uint8), w, w_scale, w_zero, np.float32(0.05),
              np.array(10, np.uint8), bias]
    np.testing.assert_array_equal(nn.QLinearConv(**config)(*inputs), run_node_ort("QLinearConv", inputs, opset=10,
                                                                                  **attrs)[0])
    integer_inputs = [x, w, np.array(128, np.uint8), np.array(0, np.int8)]
    np.testing.assert_array_equal(nn.ConvInteger(**config)(*integer_inputs),
                                  run_node_ort("ConvInteger", integer_inputs, opset=10, **attrs)[0])
    a, b = RNG.integers(0, 256, (3, 5, 7)).astype(np.uint8), RNG.integers(-128, 128, (7, 4)).astype(np.int8)
    mm = [a, np.float32(0.02), np.array(120, np.uint8), b, np.float32(0.01), np.array(0, np.int8),
          np.float32(0.3), np.array(100, np.uint8)]
    np.testing.assert_array_equal(nn.QLinearMatMul()(*mm), run_node_ort("QLinearMatMul", mm, opset=10)[0])
    np.testing.assert_array_equal(nn.MatMulInteger()(a, b, mm[2], mm[5]),
                                  run_node_ort("MatMulInteger", [a, b, mm[2], mm[5]], opset=10)[0])
    assert calls == ["conv2d_int8", "conv2d_int8", "matmul_int8", "matmul_int8"]
    u8 = [x, np.float32(0.02), np.array(128, np.uint8), (w.astype(np.int16) + 128).astype(np.uint8), w_scale,
          np.full(6, 128, np.uint8), np.float32(0.05), np.array(10, np.uint8), bias]
    np.testing.assert_array_equal(nn.QLinearConv(**config)(*u8), run_node_ort("QLinearConv", u8, opset=10,
                                                                              **attrs)[0])
    assert len(calls) == 5  # uint8 weights of zero point 128: w - 128 is the centred weight itself (no sums)
    shifted = [x, w.astype(np.int16).astype(np.uint8) + 3, np.array(128, np.uint8), np.array(7, np.uint8)]
    np.testing.assert_array_equal(nn.ConvInteger(**config)(*shifted),
                                  run_node_ort("ConvInteger", shifted, opset=10, **attrs)[0])
    assert calls[5:] == ["conv2d_int8"]  # the product (the window sums for the shift are numpy's)
    ub = (b.astype(np.int16) + 128).astype(np.uint8)
    np.testing.assert_array_equal(nn.MatMulInteger()(a, ub, mm[2], np.array(99, np.uint8)),
                                  run_node_ort("MatMulInteger", [a, ub, mm[2], np.array(99, np.uint8)], opset=10)[0])
    assert calls[6:] == ["matmul_int8"]


def test_a_forked_child_runs_int8_convolutions_after_its_parent() -> None:
    """The child builds its own primitives (the parent's belong to the parent's engine) and gets the
    parent's results."""
    from tests.helpers.forking import run_forked

    x = RNG.integers(0, 256, (2, 16, 9, 9)).astype(np.uint8)
    w = RNG.integers(-127, 128, (32, 16, 3, 3)).astype(np.int8)
    geo = ConvGeometry(x.shape, w.shape, 1, 1, 1, 1)
    parent = Q.conv2d_int8(x, w, geo, x_zero_point=3, y_dtype=np.int32)
    assert run_forked(lambda: np.array_equal(Q.conv2d_int8(x, w, geo, x_zero_point=3, y_dtype=np.int32), parent))


@pytest.mark.parametrize("groups, w_zero", [(2, 7), (4, 200), (1, 128)])
def test_uint8_weights_with_a_zero_point_give_onnxruntimes_integers(groups, w_zero) -> None:
    """ConvInteger and MatMulInteger of uint8 weights (any zero point, grouped too) on oneDNN: exact."""
    x = RNG.integers(0, 256, (2, 8, 9, 7)).astype(np.uint8)
    w = RNG.integers(0, 256, (8, 8 // groups, 3, 3)).astype(np.uint8)
    inputs = [x, w, np.array(131, np.uint8), np.array(w_zero, np.uint8)]
    attrs = dict(strides=[1, 2], pads=[1, 1, 0, 1], group=groups)
    got = nn.ConvInteger(stride=[1, 2], padding=[1, 1, 0, 1], groups=groups)(*inputs)
    np.testing.assert_array_equal(got, run_node_ort("ConvInteger", inputs, opset=10, **attrs)[0])
    a, b = RNG.integers(0, 256, (4, 600)).astype(np.uint8), RNG.integers(0, 256, (600, 5)).astype(np.uint8)
    mm = [a, b, np.array(17, np.uint8), np.array(w_zero, np.uint8)]
    np.testing.assert_array_equal(nn.MatMulInteger()(*mm), run_node_ort("MatMulInteger", mm, opset=10)[0])
