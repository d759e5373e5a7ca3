"""Reduction, argmax and top-k kernels: finite-difference gradients (float64), forwards vs ONNX."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import reduce as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

OPS = {"reduce_sum": "ReduceSum", "reduce_mean": "ReduceMean", "reduce_max": "ReduceMax",
       "reduce_min": "ReduceMin", "reduce_prod": "ReduceProd"}
AXES = [((2, 3, 5), None), ((2, 3, 5), [1]), ((2, 3, 5), [-1, 0]), ((3, 4), 0), ((4,), [0]),
        ((2, 3, 1, 3), [1, 3]), ((2, 3), [])]


def pair(op):
    return getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward")


def _input(op, shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    return 0.5 + np.abs(x) if op == "reduce_prod" else x


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("shape, axes", AXES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_backward_matches_finite_differences(op, shape, axes, keepdims):
    check_kernel(*pair(op), [_input(op, shape)], {"axes": axes, "keepdims": keepdims})


@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("shape, axes", AXES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_forward_matches_onnx(op, shape, axes, keepdims):
    x = _input(op, shape, seed=1).astype(np.float32)
    y, cache = pair(op)[0](x, axes, keepdims)
    axes_in = None if axes is None else np.array([axes] if isinstance(axes, int) else axes, np.int64)
    (expected,) = run_node(OPS[op], [x, axes_in], keepdims=int(keepdims),
                           noop_with_empty_axes=int(axes == []))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32
    (dx,) = pair(op)[1](np.ones_like(y), cache)
    assert dx.shape == x.shape and dx.dtype == np.float32


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min"])
def test_ties_send_the_gradient_to_the_first_extreme_element(op):
    x = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]) * (1 if op == "reduce_max" else -1)
    y, cache = pair(op)[0](x, [1], keepdims=False)
    (dx,) = pair(op)[1](np.array([1.0, 3.0]), cache)
    np.testing.assert_array_equal(dx, [[1.0, 0.0, 0.0], [0.0, 3.0, 0.0]])
    y, cache = pair(op)[0](np.ones((2, 2)), None)  # first in row-major order over several axes
    np.testing.assert_array_equal(pair(op)[1](np.array([[5.0]]), cache)[0], [[5.0, 0.0], [0.0, 0.0]])


def test_prod_gradient_is_exact_with_zeros():
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    _, cache = K.reduce_prod_forward(x, [1])
    (dx,) = K.reduce_prod_backward(np.ones((3, 1)), cache)
    np.testing.assert_array_equal(dx, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [6.0, 3.0, 2.0]])


def test_bad_axes_are_reported():
    with pytest.raises(ValueError, match="reduce_sum: axis 3 is out of range for a 3-D input"):
        K.reduce_sum_forward(np.ones((2, 2, 2)), [3])
    with pytest.raises(ValueError, match="name an axis twice"):
        K.reduce_mean_forward(np.ones((2, 2)), [1, -1])



@pytest.mark.parametrize("op, dtype", [("reduce_max", np.float32), ("reduce_min", np.float32),
                                       ("reduce_max", np.int32), ("reduce_min", np.int64)])
def test_max_min_of_an_empty_set_match_onnx(op, dtype):
    x = np.ones((2, 0, 4), dtype)
    y, cache = pair(op)[0](x, [1], keepdims=True)
    (expected,) = run_node(OPS[op], [x, np.array([1], np.int64)], keepdims=1)
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == dtype and pair(op)[1](np.ones((2, 1, 4), np.float32), cache)[0].shape == (2, 0, 4)


# ------------------------------------------------------------ argmax / argmin
@pytest.mark.parametrize("select_last_index", [False, True])
@pytest.mark.parametrize("keepdims", [True, False])
@pytest.mark.parametrize("axis", [0, -1, 1])
@pytest.mark.parametrize("largest, onnx_op", [(True, "ArgMax"), (False, "ArgMin")])
def test_arg_extreme_matches_onnx(largest, onnx_op, axis, keepdims, select_last_index):
    x = np.random.default_rng(2).integers(0, 3, size=(3, 4, 5)).astype(np.float32)  # many ties
    got = K.arg_extreme(x, axis, keepdims, largest, select_last_index)
    (expected,) = run_node(onnx_op, [x], axis=axis, keepdims=int(keepdims), select_last_index=int(select_last_index))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


# -------------------------------------------------------------------- top-k
TOPK = [((5,), 3, -1), ((3, 6), 2, 1), ((4, 3, 5), 4, 0), ((2, 7), 7, -1), ((2, 3), 0, 1)]


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape, k, axis", TOPK)
def test_topk_backward_matches_finite_differences(shape, k, axis, largest):
    x = np.random.default_rng(3).standard_normal(shape)
    check_kernel(K.topk_forward, K.topk_backward, [x], {"k": k, "axis": axis, "largest": largest})


@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("shape, k, axis", TOPK)
def test_topk_forward_matches_onnx_with_ties(shape, k, axis, largest):
    x = np.random.default_rng(4).integers(0, 3, size=shape).astype(np.float32)
    (values, index), cache = K.topk_forward(x, k, axis, largest)
    exp_values, exp_index = run_node("TopK", [x, np.array([k], np.int64)], n_outputs=2, axis=axis,
                                     largest=int(largest), sorted=1)
    np.testing.assert_array_equal(values, exp_values)
    np.testing.assert_array_equal(index, exp_index)
    assert index.dtype == np.int64 and values.dtype == np.float32
    (dx,) = K.topk_backward((np.ones_like(values), None), cache)
    assert dx.sum() == values.size


@pytest.mark.parametrize("dtype", [np.uint8, np.uint64, np.int32, np.int64, np.bool_])
def test_topk_orders_integer_and_boolean_types(dtype):
    """Largest-first must not negate (it wraps unsigned values); compare with a stable sort in float64."""
    x = np.array([[0, 3, 255, 3, 1, 0]]).astype(dtype)
    if dtype == np.int64:
        x[0, 4] = np.iinfo(np.int64).min  # -x overflows here
    for largest in (True, False):
        (values, index), _ = K.topk_forward(x, 3, axis=1, largest=largest)
        key = x.astype(np.float64)
        expected = np.argsort(-key if largest else key, axis=1, kind="stable")[:, :3]
        np.testing.assert_array_equal(index, expected)
        assert values.dtype == x.dtype


def test_topk_with_nan_falls_back_to_a_full_sort():
    x = np.array([[np.nan, 1.0, 3.0, np.nan, 2.0]])
    (values, index), _ = K.topk_forward(x, 4, axis=1)
    np.testing.assert_array_equal(index, [[2, 4, 1, 0]])  # NaN after every number, as numpy sorts


def test_topk_rejects_a_k_beyond_the_axis():
    with pytest.raises(ValueError, match=r"topk: k=4 is out of range for axis 1 of size 3"):
        K.topk_forward(np.ones((2, 3)), 4, axis=1)


@pytest.mark.parametrize("largest", [True, False])
def test_topk_partition_path_agrees_with_a_stable_full_sort(largest):
    x = np.random.default_rng(6).integers(0, 6, size=(40, 50)).astype(np.float64)  # ties at every boundary
    for k in (1, 7, 49, 50):
        (values, index), _ = K.topk_forward(x, k, axis=1, largest=largest)
        expected = np.argsort(-x if largest else x, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(index, expected)
        np.testing.assert_array_equal(values, np.take_along_axis(x, expected, 1))


def test_integer_reductions_keep_the_dtype_as_onnx():
    x = np.array([[1, 2, 4], [3, 5, -7]], np.int32)
    for op in OPS:
        y, _ = pair(op)[0](x, [1], keepdims=True)
        (expected,) = run_node(OPS[op], [x, np.array([1], np.int64)], keepdims=1)
        assert y.dtype == np.int32, op
        np.testing.assert_array_equal(y, expected)
