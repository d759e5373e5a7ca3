"""Pointwise math kernels: finite-difference gradients (float64), forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import math as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node, run_node_ort


def _away_from_zero(x):
    return np.sign(x) * (0.3 + np.abs(x))


UNARY = {  # op -> (ONNX op, input maker on standard normals)
    "sqrt": ("Sqrt", lambda x: 0.2 + np.abs(x)),
    "exp": ("Exp", lambda x: x),
    "log": ("Log", lambda x: 0.2 + np.abs(x)),
    "neg": ("Neg", lambda x: x),
    "abs": ("Abs", _away_from_zero),
    "reciprocal": ("Reciprocal", _away_from_zero),
    "erf": ("Erf", lambda x: 2 * x),
}
UNARY_SHAPES = [(3,), (2, 3, 5), ()]


def pair(op):
    return getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward")


@pytest.mark.parametrize("shape", UNARY_SHAPES)
@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_backward_matches_finite_differences(op, shape):
    x = UNARY[op][1](np.random.default_rng(0).standard_normal(shape))
    check_kernel(*pair(op), [x])


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary_forward_matches_onnx_and_keeps_float32(op):
    x = UNARY[op][1](np.random.default_rng(1).standard_normal((4, 7))).astype(np.float32)
    y, cache = pair(op)[0](x)
    (expected,) = run_node(UNARY[op][0], [x])
    np.testing.assert_allclose(y, expected, rtol=1e-6, atol=1e-7)
    assert y.dtype == np.float32
    assert pair(op)[1](np.ones_like(y), cache)[0].dtype == np.float32


def test_abs_gradient_is_zero_at_zero():
    _, cache = K.abs_forward(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(K.abs_backward(np.ones(3), cache)[0], [-1.0, 0.0, 1.0])


# --------------------------------------------------------------------- pow
POW_SHAPES = [[(2, 3), (2, 3)], [(2, 3, 4), (4,)], [(3, 1), (1, 4)], [(5,), ()], [(), (2, 2)]]


@pytest.mark.parametrize("shapes", POW_SHAPES)
def test_pow_backward_matches_finite_differences(shapes):
    rng = np.random.default_rng(2)
    base = 0.3 + np.abs(rng.standard_normal(shapes[0]))
    exponent = rng.standard_normal(shapes[1])
    check_kernel(K.pow_forward, K.pow_backward, [base, exponent])


@pytest.mark.parametrize("shapes", POW_SHAPES)
def test_pow_forward_matches_onnx(shapes):
    rng = np.random.default_rng(3)
    base = (0.3 + np.abs(rng.standard_normal(shapes[0]))).astype(np.float32)
    exponent = rng.standard_normal(shapes[1]).astype(np.float32)
    y, _ = K.pow_forward(base, exponent)
    (expected,) = run_node("Pow", [base, exponent])
    np.testing.assert_allclose(y, expected, rtol=1e-5)


def test_pow_keeps_the_base_dtype_and_handles_negative_bases_at_integer_exponents():
    base = np.array([-2.0, 0.0, 3.0], np.float32)
    y, cache = K.pow_forward(base, np.array(2, np.int64))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, run_node("Pow", [base, np.array(2, np.int64)])[0])
    dbase, dexp = K.pow_backward(np.ones(3, np.float32), cache)  # an integer exponent gets no gradient
    assert dexp is None and dbase.dtype == np.float32
    np.testing.assert_array_equal(dbase, [-4.0, 0.0, 6.0])
    y, cache = K.pow_forward(base, np.array([2.0, 2.0, 2.0]))
    dbase, dexp = K.pow_backward(np.ones(3, np.float32), cache)
    np.testing.assert_allclose(dbase, [-4.0, 0.0, 6.0])
    np.testing.assert_allclose(dexp, [0.0, 0.0, 9.0 * np.log(3.0)], rtol=1e-6)  # base <= 0: exponent grad 0


# -------------------------------------------------------------------- clip
CLIP_BOUNDS = [(-0.5, 0.7), (None, 0.2), (-0.1, None), (None, None)]


@pytest.mark.parametrize("lo, hi", CLIP_BOUNDS)
def test_clip_backward_matches_finite_differences(lo, hi):
    x = np.random.default_rng(4).standard_normal((3, 5))
    for bound in (lo, hi):  # keep the finite differences off the kinks
        if bound is not None:
            x = np.where(np.abs(x - bound) < 1e-3, x + 0.01, x)
    check_kernel(K.clip_forward, K.clip_backward, [x], {"min": lo, "max": hi})


@pytest.mark.parametrize("lo, hi", CLIP_BOUNDS + [(0.5, -0.5)])
def test_clip_forward_matches_onnx(lo, hi):
    x = np.random.default_rng(5).standard_normal((4, 6)).astype(np.float32)
    y, _ = K.clip_forward(x, lo, hi)
    bounds = [None if b is None else np.array(b, np.float32) for b in (lo, hi)]
    (expected,) = run_node("Clip", [x, *bounds])
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == np.float32 and y is not x


def test_clip_gradient_passes_at_the_bounds():
    _, cache = K.clip_forward(np.array([0.0, 6.0, 7.0, -1.0]), 0.0, 6.0)
    np.testing.assert_array_equal(K.clip_backward(np.ones(4), cache)[0], [1.0, 1.0, 0.0, 0.0])


# ------------------------------------------------------ max / min / mean
NARY = [[(2, 3)], [(2, 3), (2, 3)], [(2, 3, 4), (3, 1), (4,)], [(1, 3), (2, 1)], [(), (2, 2)]]
NARY_ONNX = {"max": "Max", "min": "Min", "mean": "Mean"}


@pytest.mark.parametrize("shapes", NARY)
@pytest.mark.parametrize("op", ["max", "min", "mean"])
def test_nary_backward_matches_finite_differences(op, shapes):
    rng = np.random.default_rng(6)
    check_kernel(*pair(op), [rng.standard_normal(s) for s in shapes])


@pytest.mark.parametrize("shapes", NARY)
@pytest.mark.parametrize("op", ["max", "min", "mean"])
def test_nary_forward_matches_onnx(op, shapes):
    rng = np.random.default_rng(7)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    y, cache = pair(op)[0](*xs)
    # onnx 1.23's reference Mean adds in place into its first input, so it cannot broadcast that one
    runner = run_node_ort if op == "mean" else run_node
    (expected,) = runner(NARY_ONNX[op], xs)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert y.dtype == np.float32
    assert [g.shape for g in pair(op)[1](np.ones_like(y), cache)] == [x.shape for x in xs]


@pytest.mark.parametrize("op", ["max", "min"])
def test_ties_send_the_gradient_to_the_first_input(op):
    a, b, c = np.array([1.0, 2.0]), np.array([1.0, 0.5 if op == "min" else 3.0]), np.array([1.0, 1.0])
    _, cache = pair(op)[0](a, b, c)
    da, db, dc = pair(op)[1](np.array([1.0, 1.0]), cache)
    np.testing.assert_array_equal(da, [1.0, 0.0])
    np.testing.assert_array_equal(db, [0.0, 1.0])
    np.testing.assert_array_equal(dc, [0.0, 0.0])


@pytest.mark.parametrize("op", ["max", "min", "mean"])
def test_nary_errors(op):
    with pytest.raises(ValueError, match="at least one"):
        pair(op)[0]()
    with pytest.raises(ValueError, match=rf"{op}: shapes \[\(2, 3\), \(4,\)\]"):
        pair(op)[0](np.ones((2, 3)), np.ones(4))


# ------------------------------------------------------------------- where
WHERE = [[(2, 3), (2, 3), (2, 3)], [(3,), (2, 3), ()], [(2, 1), (1, 4), (4,)]]


@pytest.mark.parametrize("shapes", WHERE)
def test_where_backward_matches_finite_differences(shapes):
    rng = np.random.default_rng(8)
    cond = rng.random(shapes[0]) > 0.5
    check_kernel(K.where_forward, K.where_backward, [cond, rng.standard_normal(shapes[1]),
                                                    rng.standard_normal(shapes[2])])


@pytest.mark.parametrize("shapes", WHERE)
def test_where_forward_matches_onnx(shapes):
    rng = np.random.default_rng(9)
    cond = rng.random(shapes[0]) > 0.5
    a, b = (rng.standard_normal(s).astype(np.float32) for s in shapes[1:])
    y, cache = K.where_forward(cond, a, b)
    np.testing.assert_array_equal(y, run_node("Where", [cond, a, b])[0])
    assert K.where_backward(np.ones_like(y), cache)[0] is None


# ---------------------------------------------------- comparisons, logic
@pytest.mark.parametrize("op, onnx_op", [("equal", "Equal"), ("less", "Less"), ("greater", "Greater"),
                                         ("less_equal", "LessOrEqual"), ("greater_equal", "GreaterOrEqual")])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_comparisons_match_onnx(op, onnx_op, dtype):
    rng = np.random.default_rng(10)
    a = rng.integers(-2, 3, size=(3, 4)).astype(dtype)
    b = rng.integers(-2, 3, size=(4,)).astype(dtype)
    y = K.compare(op, a, b)
    assert y.dtype == np.bool_
    np.testing.assert_array_equal(y, run_node(onnx_op, [a, b])[0])


@pytest.mark.parametrize("op, onnx_op", [("not", "Not"), ("and", "And"), ("or", "Or"), ("xor", "Xor")])
def test_logic_matches_onnx(op, onnx_op):
    rng = np.random.default_rng(11)
    xs = [rng.random((2, 3)) > 0.5] + ([rng.random((3,)) > 0.5] if op != "not" else [])
    y = K.logical(op, *xs)
    np.testing.assert_array_equal(y, run_node(onnx_op, xs)[0])


def test_boolean_op_errors():
    with pytest.raises(ValueError, match="unknown comparison 'lt'"):
        K.compare("lt", np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"less: shapes \[\(2,\), \(3,\)\]"):
        K.compare("less", np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="not: expected 1 input"):
        K.logical("not", np.ones(2), np.ones(2))
