"""GatherElements/ScatterElements/GatherND/ScatterND kernels: finite-difference gradients, forwards vs ONNX."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import scatter as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5))
ELEMENT_INDICES = RNG.integers(-3, 3, (2, 4, 5))  # axis 0; repeats and negatives
ND_INDICES = np.array([[[0, 1], [2, -1]], [[1, 3], [0, 0]]])  # (2, 2, 2): (row, col) pairs, a repeat


def test_gather_elements_backward_matches_finite_differences() -> None:
    check_kernel(K.gather_elements_forward, K.gather_elements_backward, [X, ELEMENT_INDICES], {"axis": 0})


def test_gather_nd_backward_matches_finite_differences() -> None:
    check_kernel(K.gather_nd_forward, K.gather_nd_backward, [X, ND_INDICES])
    check_kernel(K.gather_nd_forward, K.gather_nd_backward, [X, np.array([[1], [3], [0]])], {"batch_dims": 1})


@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_elements_backward_matches_finite_differences(reduction: str) -> None:
    indices = np.array([[[0, 2, 1, 0, 2]], [[1, 0, 2, 2, 1]]]).transpose(1, 0, 2)  # (1, 2, 5), distinct per column
    updates = RNG.standard_normal(indices.shape)
    check_kernel(K.scatter_elements_forward, K.scatter_elements_backward, [X[:, :2], indices, updates],
                 {"axis": 0, "reduction": reduction})


@pytest.mark.parametrize("reduction", ["none", "add"])
def test_scatter_nd_backward_matches_finite_differences(reduction: str) -> None:
    indices = np.array([[0, 1], [2, 3], [1, 0]])
    updates = RNG.standard_normal((3, 5))
    check_kernel(K.scatter_nd_forward, K.scatter_nd_backward, [X, indices, updates], {"reduction": reduction})


def test_scatter_none_gives_a_repeated_position_to_the_winning_update_only() -> None:
    y, cache = K.scatter_nd_forward(np.zeros(3), np.array([[1], [1]]), np.array([5.0, 7.0]))
    ddata, _, dupdates = K.scatter_nd_backward(np.ones(3), cache)
    assert y[1] == 7.0
    np.testing.assert_array_equal(ddata, [1, 0, 1])
    np.testing.assert_array_equal(dupdates, [0, 1])


def test_scatter_mul_has_no_backward() -> None:
    _, cache = K.scatter_nd_forward(np.ones(3), np.array([[1]]), np.array([5.0]), reduction="mul")
    with pytest.raises(ValueError, match="not supported"):
        K.scatter_nd_backward(np.ones(3), cache)


def test_forwards_match_onnx() -> None:
    x = X.astype(np.float32)
    np.testing.assert_array_equal(K.gather_elements_forward(x, ELEMENT_INDICES, 0)[0],
                                  run_node("GatherElements", [x, ELEMENT_INDICES], axis=0)[0])
    np.testing.assert_array_equal(K.gather_nd_forward(x, ND_INDICES)[0], run_node("GatherND", [x, ND_INDICES])[0])
    updates = RNG.standard_normal((2, 2, 5)).astype(np.float32)
    for reduction in ("add", "mul", "max", "min"):
        np.testing.assert_allclose(K.scatter_nd_forward(x, ND_INDICES, updates, reduction)[0],
                                   run_node("ScatterND", [x, ND_INDICES, updates], reduction=reduction)[0],
                                   rtol=1e-6)
        np.testing.assert_allclose(
            K.scatter_elements_forward(x, ELEMENT_INDICES, X[:2].astype(np.float32), 0, reduction)[0],
            run_node("ScatterElements", [x, ELEMENT_INDICES, X[:2].astype(np.float32)], axis=0,
                     reduction=reduction)[0], rtol=1e-6)


def test_out_of_range_indices_raise() -> None:
    with pytest.raises(ValueError, match="out of range"):
        K.gather_elements_forward(X, np.full((3, 4, 5), 3), 0)
