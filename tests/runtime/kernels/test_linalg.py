"""Det kernel: finite-difference gradient (float64), forward vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import linalg as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_det_backward_matches_finite_differences(shape: tuple[int, ...]) -> None:
    check_kernel(K.det_forward, K.det_backward, [np.random.default_rng(0).standard_normal(shape)])


def test_det_forward_matches_onnx() -> None:
    x = np.random.default_rng(1).standard_normal((2, 3, 3)).astype(np.float32)
    y, _ = K.det_forward(x)
    np.testing.assert_allclose(y, run_node("Det", [x], opset=11)[0], rtol=1e-5)
    assert y.dtype == np.float32


def test_det_gradient_of_a_singular_matrix_is_refused() -> None:
    _, cache = K.det_forward(np.ones((2, 2)))
    with pytest.raises(ValueError, match="singular"):
        K.det_backward(np.ones(()), cache)
