"""linear kernel: finite-difference gradients and the ONNX Gemm / MatMul reference."""
import numpy as np
import pytest

from bigdl_runtime.kernels.linear import linear_backward, linear_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

CASES = [  # (input shape, out_features, bias)
    ((3, 5), 4, True),
    ((3, 5), 4, False),
    ((1, 1), 1, True),
    ((2, 3, 5), 2, True),
    ((2, 1, 3, 4), 3, False),
]


@pytest.mark.parametrize("shape,out,bias", CASES)
def test_linear_gradients(shape, out, bias, rng):
    x = rng.standard_normal(shape)
    w = rng.standard_normal((out, shape[-1]))
    b = rng.standard_normal(out) if bias else None
    check_kernel(linear_forward, linear_backward, [x, w, b])


def test_linear_backward_gives_none_for_missing_bias(rng):
    x = rng.standard_normal((2, 3))
    _, cache = linear_forward(x, rng.standard_normal((4, 3)))
    assert linear_backward(np.ones((2, 4)), cache)[2] is None


@pytest.mark.parametrize("n,fin,fout", [(4, 7, 3), (1, 2, 5), (6, 1, 1)])
def test_linear_matches_onnx_gemm(n, fin, fout, rng):
    x = rng.standard_normal((n, fin)).astype(np.float32)
    w = rng.standard_normal((fout, fin)).astype(np.float32)
    b = rng.standard_normal(fout).astype(np.float32)
    y, _ = linear_forward(x, w, b)
    (ref,) = run_node("Gemm", [x, w, b], transB=1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_linear_batched_matches_onnx_matmul(rng):
    x = rng.standard_normal((2, 3, 5)).astype(np.float32)
    w = rng.standard_normal((4, 5)).astype(np.float32)
    y, _ = linear_forward(x, w)
    (ref,) = run_node("MatMul", [x, np.ascontiguousarray(w.T)])
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_linear_keeps_float32_gradients(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((2, 4)).astype(np.float32)
    b = np.zeros(2, np.float32)
    y, cache = linear_forward(x, w, b)
    grads = linear_backward(np.ones_like(y), cache)
    assert all(g.dtype == np.float32 for g in grads)


def test_linear_rejects_feature_mismatch(rng):
    with pytest.raises(ValueError, match="3 features"):
        linear_forward(rng.standard_normal((2, 3)), rng.standard_normal((4, 5)))
