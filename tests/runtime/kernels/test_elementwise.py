"""Elementwise kernels with broadcasting: gradients reduced to each input's shape, ONNX forwards."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import elementwise as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

ONNX_OP = {"add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div"}

CASES = [
    ("add", [(2, 3), (2, 3)]),
    ("add", [(2, 3, 4), (3, 1), (4,)]),
    ("add", [(1, 3), (2, 1)]),
    ("add", [(2, 3)]),
    ("add", [(), (2, 3)]),
    ("sub", [(2, 3), (3,)]),
    ("sub", [(2, 1, 4), (3, 1)]),
    ("mul", [(2, 3, 5), (2, 3, 5)]),
    ("mul", [(3, 1), (2, 1, 5)]),
    ("div", [(2, 3), (2, 3)]),
    ("div", [(4,), (3, 1)]),
    ("div", [(2, 1, 3), ()]),
]


def _inputs(op, shapes, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.standard_normal(s) for s in shapes]
    if op == "div":  # keep the divisor away from zero
        xs[1] = np.sign(xs[1]) * (0.5 + np.abs(xs[1]))
    return xs


def pair(op):
    return getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward")


@pytest.mark.parametrize("op, shapes", CASES)
def test_backward_matches_finite_differences(op, shapes):
    check_kernel(*pair(op), _inputs(op, shapes))


@pytest.mark.parametrize("op, shapes", CASES)
def test_forward_matches_onnx_and_keeps_float32(op, shapes):
    xs = [x.astype(np.float32) for x in _inputs(op, shapes)]
    y, cache = pair(op)[0](*xs)
    onnx_op = ONNX_OP[op] if len(xs) == 2 else "Sum"
    (expected,) = run_node(onnx_op, xs)
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)
    grads = pair(op)[1](np.ones_like(y), cache)
    assert [g.shape for g in grads] == [x.shape for x in xs]
    assert all(g.dtype == np.float32 for g in grads)


def test_unbroadcast_sums_added_and_stretched_axes():
    g = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(K.unbroadcast(g, (3, 1)), g.sum(axis=(0, 2)).reshape(3, 1))
    np.testing.assert_array_equal(K.unbroadcast(g, ()), g.sum())
    assert K.unbroadcast(g, (2, 3, 4)) is g


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_incompatible_shapes_raise_value_error(op):
    with pytest.raises(ValueError, match=rf"{op}: shapes \[\(2, 3\), \(4,\)\]"):
        pair(op)[0](np.ones((2, 3)), np.ones(4))


def test_add_needs_an_input():
    with pytest.raises(ValueError, match="at least one"):
        K.add_forward()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32])
def test_typed_constant_keeps_the_operands_dtype(dtype):
    c = K.typed(6.0, np.dtype(dtype))
    assert c.shape == () and c.dtype == dtype and c == 6 and not c.flags.writeable
    x = np.arange(4, dtype=dtype)
    assert np.add(x, c).dtype == dtype  # a 0-d array of the same dtype promotes nothing
    with pytest.raises(ValueError):
        c[...] = 1  # shared between callers: read-only


def test_out_for_writes_in_place_except_into_one_value():
    a, one = np.zeros((2, 3)), np.zeros((1, 1))
    assert K.out_for(a) is a and K.out_for(one) is None
    assert np.add(one, 1.0, out=K.out_for(one)) is not one and one[0, 0] == 0  # a new array, the input unchanged
