"""Hardmax, OneHot and NonZero against the ONNX reference; their layers report no gradient."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime import nn
from bigdl_runtime.kernels import indicator as K
from tests.helpers.onnx_ref import run_node, run_node_ort


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_hardmax_matches_onnx_and_picks_the_first_tie(axis: int) -> None:
    x = np.random.default_rng(0).integers(0, 3, (3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(K.hardmax(x, axis), run_node("Hardmax", [x], opset=13, axis=axis)[0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_one_hot_matches_onnx_with_negative_and_out_of_range_indices(axis: int) -> None:
    indices = np.array([[0, -1, 2], [5, -4, 1]], np.int64)
    values = np.array([-2.0, 3.0], np.float32)
    got = K.one_hot(indices, 4, values[0], values[1], axis)
    want = run_node("OneHot", [indices, np.array(4, np.int64), values], opset=11, axis=axis)[0]
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32


def test_nonzero_matches_onnx() -> None:
    x = np.array([[0, 1, 0], [2, 0, 3]], np.int32)
    np.testing.assert_array_equal(K.nonzero(x), run_node("NonZero", [x], opset=13)[0])
    assert K.nonzero(np.zeros((2, 2))).shape == (2, 0)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("sorted_", [True, False])
def test_unique_matches_onnxruntime(axis, sorted_: bool) -> None:
    """(The onnx reference takes unsorted values along axis 0 whatever the axis; onnxruntime follows the spec.)"""
    x = np.array([[1, 0, 1], [2, 2, 0], [1, 0, 1], [0, 3, 3]], np.int64)
    got = K.unique(x, axis, sorted_)
    attrs = {"sorted": int(sorted_)} if axis is None else {"sorted": int(sorted_), "axis": axis}
    for g, w in zip(got, run_node_ort("Unique", [x], n_outputs=4, opset=11, **attrs)):
        np.testing.assert_array_equal(g, w)


def test_indicator_layers_pass_no_gradient() -> None:
    layer = nn.OneHot(3)
    layer(np.array([0, 2]))
    assert layer.backward(np.ones((2, 3))) is None
