"""Instance norm kernel: finite-difference gradients (float64), forward vs ONNX and the per-plane formula."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels.instance_norm import instance_norm_backward, instance_norm_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

SHAPES = [(2, 3, 5), (2, 3, 4, 3), (1, 2, 2, 3, 2), (3, 1, 7)]


def _inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    return rng.standard_normal(shape) * 2 + 1, 1 + 0.5 * rng.standard_normal(c), rng.standard_normal(c)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_finite_differences(shape, affine):
    x, gamma, beta = _inputs(shape)
    check_kernel(instance_norm_forward, instance_norm_backward,
                 [x, gamma if affine else None, beta if affine else None], {"eps": 1e-3})


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_onnx(shape):
    x, gamma, beta = (v.astype(np.float32) for v in _inputs(shape, 1))
    y, cache = instance_norm_forward(x, gamma, beta, eps=1e-4)
    np.testing.assert_allclose(y, run_node("InstanceNormalization", [x, gamma, beta], epsilon=1e-4)[0],
                               rtol=1e-4, atol=1e-5)
    dx, dgamma, dbeta = instance_norm_backward(np.ones_like(y), cache)
    assert dx.dtype == dgamma.dtype == dbeta.dtype == np.float32


def test_forward_matches_the_formula_per_plane():
    x, gamma, beta = _inputs((2, 3, 4, 5), 2)
    y, _ = instance_norm_forward(x, gamma, beta)
    for n in range(2):
        for c in range(3):
            plane = x[n, c]
            expected = (plane - plane.mean()) / np.sqrt(plane.var() + 1e-5) * gamma[c] + beta[c]
            np.testing.assert_allclose(y[n, c], expected, rtol=1e-12, atol=1e-12)


def test_errors():
    with pytest.raises(ValueError, match=r"expected input \(N, C, \*spatial\)"):
        instance_norm_forward(np.ones((2, 3)), None, None)
    with pytest.raises(ValueError, match=r"gamma has shape \(2,\), expected \(3,\)"):
        instance_norm_forward(np.ones((2, 3, 4)), np.ones(2), None)
