"""Shape kernels (concat, split, reshape, flatten, transpose): gradients, ONNX forwards, errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import shape as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node


def _random(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("shapes, axis", [
    ([(2, 3), (2, 1), (2, 4)], 1),
    ([(1, 2, 3), (2, 2, 3)], 0),
    ([(2, 3, 1), (2, 3, 4)], -1),
    ([(3, 2)], 0),
])
def test_concat(shapes, axis):
    xs = _random(*shapes)
    check_kernel(K.concat_forward, K.concat_backward, xs, {"axis": axis})
    xs32 = [x.astype(np.float32) for x in xs]
    (expected,) = run_node("Concat", xs32, axis=axis)
    np.testing.assert_array_equal(K.concat_forward(*xs32, axis=axis)[0], expected)


@pytest.mark.parametrize("shape, sizes_or_n, axis", [
    ((5, 6), 3, 1),
    ((5, 4), [2, 0, 3], 0),
    ((2, 3, 5), [1, 4], -1),
    ((3, 2), 1, 0),
])
def test_split(shape, sizes_or_n, axis):
    (x,) = _random(shape)
    check_kernel(K.split_forward, K.split_backward, [x], {"sizes_or_n": sizes_or_n, "axis": axis})
    x32 = x.astype(np.float32)
    parts, _ = K.split_forward(x32, sizes_or_n, axis=axis)
    if isinstance(sizes_or_n, int):
        expected = run_node("Split", [x32], n_outputs=sizes_or_n, axis=axis, num_outputs=sizes_or_n)
    else:
        expected = run_node("Split", [x32, np.array(sizes_or_n, np.int64)], n_outputs=len(sizes_or_n), axis=axis)
    assert len(parts) == len(expected)
    for got, want in zip(parts, expected):
        np.testing.assert_array_equal(got, want)


def test_split_backward_treats_missing_gradients_as_zero():
    x = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    parts, cache = K.split_forward(x, [1, 3], axis=1)
    (dx,) = K.split_backward((None, np.ones_like(parts[1])), cache)
    assert dx.dtype == np.float32
    np.testing.assert_array_equal(dx, np.c_[np.zeros((3, 1)), np.ones((3, 3))])


@pytest.mark.parametrize("shape, target", [
    ((2, 3, 4), [4, -1]),
    ((2, 3, 4), [0, -1]),
    ((2, 3, 4), [0, 0, 2, 2]),
    ((2, 3, 5), [-1]),
    ((1, 6), [3, 1, 2]),
])
def test_reshape(shape, target):
    (x,) = _random(shape)
    check_kernel(K.reshape_forward, K.reshape_backward, [x], {"shape": target})
    x32 = x.astype(np.float32)
    (expected,) = run_node("Reshape", [x32, np.array(target, np.int64)])
    np.testing.assert_array_equal(K.reshape_forward(x32, target)[0], expected)


@pytest.mark.parametrize("shape, start_dim", [
    ((2, 3, 4), 1), ((2, 3, 4), 0), ((2, 3, 4), 3), ((2, 3, 4), -1), ((2, 3, 4, 5), 2),
])
def test_flatten(shape, start_dim):
    (x,) = _random(shape)
    check_kernel(K.flatten_forward, K.flatten_backward, [x], {"start_dim": start_dim})
    x32 = x.astype(np.float32)
    (expected,) = run_node("Flatten", [x32], axis=start_dim)
    np.testing.assert_array_equal(K.flatten_forward(x32, start_dim)[0], expected)


@pytest.mark.parametrize("shape, perm", [
    ((2, 3, 4), None), ((2, 3, 4), [1, 0, 2]), ((2, 3, 4), [2, 0, 1]), ((2, 3, 4, 5), [0, 2, 3, 1]),
])
def test_transpose(shape, perm):
    (x,) = _random(shape)
    check_kernel(K.transpose_forward, K.transpose_backward, [x], {"perm": perm})
    x32 = x.astype(np.float32)
    (expected,) = run_node("Transpose", [x32], **({} if perm is None else {"perm": perm}))
    np.testing.assert_array_equal(K.transpose_forward(x32, perm)[0], expected)


@pytest.mark.parametrize("call, message", [
    (lambda: K.concat_forward(np.zeros((2, 3)), np.zeros((3, 3)), axis=1), r"\(2, 3\), \(3, 3\)"),
    (lambda: K.concat_forward(np.zeros((2, 3)), axis=2), "axis 2"),
    (lambda: K.split_forward(np.zeros((2, 5)), 2, axis=1), "2 equal parts"),
    (lambda: K.split_forward(np.zeros((2, 5)), [2, 2], axis=1), r"\[2, 2\]"),
    (lambda: K.reshape_forward(np.zeros((2, 3)), [4, -1]), r"\(2, 3\).*\[4, -1\]"),
    (lambda: K.reshape_forward(np.zeros((2, 3)), [-1, -1]), "cannot reshape"),
    (lambda: K.reshape_forward(np.zeros((2, 3)), [5]), "cannot reshape"),
    (lambda: K.flatten_forward(np.zeros((2, 3)), 3), "start_dim 3"),
    (lambda: K.transpose_forward(np.zeros((2, 3)), [0, 0]), r"\[0, 0\]"),
])
def test_bad_shapes_raise_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
