"""Dynamic quantisation (DynamicQuantizeLinear's parameters, dynamically quantised products) against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import dynamic_quantize as D
from bigdl_runtime.kernels import quantize as Q
from tests.helpers.onnx_ref import run_node_ort

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("x", [RNG.standard_normal((3, 7)), RNG.uniform(0.5, 3.0, (4, 5)), -RNG.uniform(0, 2, (9,)),
                               np.zeros((2, 3)), np.full((2, 2), 1e-30)], ids=["mixed", "positive", "negative",
                                                                              "zeros", "tiny"])
def test_dynamic_quantize_parameters_match_onnxruntime(x: np.ndarray) -> None:
    x = x.astype(np.float32)
    q, scale, zero = run_node_ort("DynamicQuantizeLinear", [x], n_outputs=3, opset=11)
    got_scale, got_zero = D.dynamic_quantize_parameters(x)
    assert got_scale.dtype == np.float32 and got_zero.dtype == np.uint8
    assert got_scale == scale and got_zero == zero
    np.testing.assert_array_equal(Q.quantize_linear(x, got_scale, np.asarray(got_zero)), q)


@pytest.mark.parametrize("dtype,zero", [(np.int8, 0), (np.uint8, 131)])
def test_dynamic_quantized_matmul_matches_onnxruntime(dtype, zero: int) -> None:
    a = RNG.standard_normal((5, 40)).astype(np.float32)
    low, high = (-128, 128) if dtype == np.int8 else (0, 256)
    w = RNG.integers(low, high, (40, 6)).astype(dtype)
    scale = np.array(0.003, np.float32)
    want = run_node_ort("DynamicQuantizeMatMul", [a, w, scale, np.array(zero, dtype)], opset=1,
                        domain="com.microsoft")[0]
    got = D.dynamic_quantized_matmul(a, D.quantized_weight(w, scale, zero))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_quantized_weight_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="2-D int8 or uint8"):
        D.quantized_weight(np.zeros((2, 3, 4), np.int8), np.float32(1.0))
    with pytest.raises(ValueError, match="one per column"):
        D.quantized_weight(np.zeros((2, 3), np.int8), np.ones(2, np.float32))


@pytest.mark.parametrize("x", [RNG.standard_normal((3, 7)), RNG.uniform(0.5, 3.0, (4, 5)), np.zeros((2, 3)),
                               np.array([-1.0, 0.0, 2.0]), RNG.standard_normal((2, 3, 4, 5))],
                         ids=["mixed", "positive", "zeros", "small", "4d"])
def test_dynamic_quantize_linear_layer_matches_onnxruntime(x: np.ndarray) -> None:
    from bigdl_runtime import nn

    x = x.astype(np.float32)
    want = run_node_ort("DynamicQuantizeLinear", [x], n_outputs=3, opset=11)
    got = nn.DynamicQuantizeLinear()(x)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
