"""MaxUnpool kernel: finite-difference gradient (float64), forward vs the ONNX reference on MaxPool's indices;
MaxPool's indices against onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import unpool as K
from bigdl_runtime.kernels.pool import max_pool2d_indices
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node, run_node_ort

RNG = np.random.default_rng(0)


def test_backward_matches_finite_differences() -> None:
    indices = RNG.permutation(2 * 3 * 4 * 4)[:2 * 3 * 2 * 2].reshape(2, 3, 2, 2)
    check_kernel(K.max_unpool_forward, K.max_unpool_backward, [RNG.standard_normal((2, 3, 2, 2)), indices],
                 {"kernel": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "output_shape": [2, 3, 5, 4]})


def test_forward_undoes_max_pool_as_onnx() -> None:
    x = RNG.standard_normal((1, 2, 4, 6)).astype(np.float32)
    pooled, indices = run_node("MaxPool", [x], n_outputs=2, kernel_shape=[2, 2], strides=[2, 2])
    y, _ = K.max_unpool_forward(pooled, indices, [2, 2], [2, 2], [0, 0, 0, 0])
    want = run_node("MaxUnpool", [pooled, indices], opset=11, kernel_shape=[2, 2], strides=[2, 2])[0]
    np.testing.assert_array_equal(y, want)
    assert ((y == 0) | (y == x)).all()


@pytest.mark.parametrize("kernel,strides,pads,dilations,ceil_mode,storage_order", [
    ([2, 2], [2, 2], [0, 0, 0, 0], [1, 1], 0, 0),
    ([3, 2], [2, 1], [1, 0, 1, 1], [1, 1], 1, 0),
    ([2, 3], [1, 2], [0, 1, 0, 1], [2, 1], 0, 1),
])
def test_max_pool_indices_match_onnxruntime(kernel, strides, pads, dilations, ceil_mode, storage_order) -> None:
    x = RNG.integers(0, 4, (2, 3, 7, 6)).astype(np.float32)  # ties: the first maximum wins
    got = max_pool2d_indices(x, kernel, strides, pads, dilations, bool(ceil_mode), storage_order)
    want = run_node_ort("MaxPool", [x], n_outputs=2, opset=12, kernel_shape=kernel, strides=strides, pads=pads,
                        dilations=dilations, ceil_mode=ceil_mode, storage_order=storage_order)[1]
    np.testing.assert_array_equal(got, want)
