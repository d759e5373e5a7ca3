"""Quantised kernels and layers against onnxruntime (integer results must be identical)."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime import nn
from bigdl_runtime.kernels import quantize as K
from tests.helpers.onnx_ref import run_node_ort

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16])
def test_quantize_rounds_half_to_even_and_saturates_as_onnxruntime(dtype) -> None:
    x = np.concatenate([np.arange(-6, 6) * 0.5, RNG.uniform(-300, 300, 20), [1e6, -1e6]]).astype(np.float32)
    scale, zero = np.float32(0.5), np.array(3, dtype)
    got = K.quantize_linear(x, scale, zero)
    np.testing.assert_array_equal(got, run_node_ort("QuantizeLinear", [x, scale, zero], opset=21)[0])
    assert got.dtype == dtype


def test_per_axis_and_blocked_quantize_and_dequantize_match_onnxruntime() -> None:
    x = RNG.uniform(-5, 5, (2, 6, 4)).astype(np.float32)
    scale = RNG.uniform(0.01, 0.1, 6).astype(np.float32)
    zero = RNG.integers(-10, 10, 6).astype(np.int8)
    q = K.quantize_linear(x, scale, zero, axis=1)
    np.testing.assert_array_equal(q, run_node_ort("QuantizeLinear", [x, scale, zero], opset=21, axis=1)[0])
    np.testing.assert_array_equal(K.dequantize_linear(q, scale, zero, axis=1),
                                  run_node_ort("DequantizeLinear", [q, scale, zero], opset=21, axis=1)[0])
    blocked_scale = RNG.uniform(0.01, 0.1, (2, 3, 4)).astype(np.float32)
    blocked_zero = RNG.integers(0, 20, (2, 3, 4)).astype(np.uint8)
    q = K.quantize_linear(x, blocked_scale, blocked_zero, axis=1, block_size=2)
    want = run_node_ort("QuantizeLinear", [x, blocked_scale, blocked_zero], opset=21, axis=1, block_size=2)[0]
    np.testing.assert_array_equal(q, want)
    np.testing.assert_array_equal(
        K.dequantize_linear(q, blocked_scale, blocked_zero, axis=1, block_size=2),
        run_node_ort("DequantizeLinear", [q, blocked_scale, blocked_zero], opset=21, axis=1, block_size=2)[0])


def test_matmul_integer_and_qlinear_matmul_match_onnxruntime() -> None:
    a = RNG.integers(0, 256, (3, 5, 7)).astype(np.uint8)
    b = RNG.integers(-128, 128, (7, 4)).astype(np.int8)
    a_zero, b_zero = np.array(120, np.uint8), np.array(-3, np.int8)
    np.testing.assert_array_equal(K.matmul_integer(a, b, a_zero, b_zero),
                                  run_node_ort("MatMulInteger", [a, b, a_zero, b_zero], opset=10)[0])
    b8 = b.astype(np.int16).clip(0, 255).astype(np.uint8)
    scales = [np.float32(0.02), np.float32(0.01), np.float32(0.3)]
    inputs = [a, scales[0], a_zero, b8, scales[1], np.array(7, np.uint8), scales[2], np.array(100, np.uint8)]
    got = nn.QLinearMatMul()(*inputs)
    np.testing.assert_array_equal(got, run_node_ort("QLinearMatMul", inputs, opset=10)[0])


def test_conv_integer_and_qlinear_conv_match_onnxruntime() -> None:
    x = RNG.integers(0, 256, (2, 3, 7, 6)).astype(np.uint8)
    w = RNG.integers(0, 256, (4, 3, 3, 2)).astype(np.uint8)
    x_zero, w_zero = np.array(128, np.uint8), np.array(130, np.uint8)
    attrs = dict(strides=[2, 1], pads=[1, 0, 1, 1], dilations=[1, 2])
    layer = nn.ConvInteger(stride=[2, 1], padding=[1, 0, 1, 1], dilation=[1, 2])
    np.testing.assert_array_equal(layer(x, w, x_zero, w_zero),
                                  run_node_ort("ConvInteger", [x, w, x_zero, w_zero], opset=10, **attrs)[0])
    w_scale = RNG.uniform(0.001, 0.01, 4).astype(np.float32)  # per output channel
    bias = RNG.integers(-1000, 1000, 4).astype(np.int32)
    inputs = [x, np.float32(0.02), x_zero, w, w_scale, w_zero, np.float32(0.05), np.array(10, np.uint8), bias]
    got = nn.QLinearConv(stride=[2, 1], padding=[1, 0, 1, 1], dilation=[1, 2])(*inputs)
    np.testing.assert_array_equal(got, run_node_ort("QLinearConv", inputs, opset=10, **attrs)[0])


def test_quantised_layers_refuse_backward() -> None:
    layer = nn.QuantizeLinear()
    layer(np.ones(3, np.float32), np.float32(0.1))
    with pytest.raises(RuntimeError, match="no gradient"):
        layer.backward(np.ones(3))

