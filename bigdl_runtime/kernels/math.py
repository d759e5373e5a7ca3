"""Pointwise math: unary functions, pow, clip, variadic max/min/mean, where; comparisons and logic.

Binary and variadic ops broadcast with numpy rules and sum each input's gradient
back to its own shape. Outputs keep the dtype of the (first floating) input, as
ONNX does (``Pow`` keeps the base's dtype whatever the exponent's).

Comparisons and logic (:func:`compare`, :func:`logical`) return booleans: they
are piecewise constant in their inputs, so they have no kernel pair and no
gradient (their layers report none, see ``bigdl_runtime.nn.layers.math``).

Ties in :func:`max_forward` / :func:`min_forward` send the whole gradient to the
first input that attains the extremum (the same rule as ``argmax`` and the
reductions in :mod:`.reduce`), so the gradient always sums to ``dy``.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .activation import erf
from .elementwise import unbroadcast

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _shape_check(*xs: np.ndarray, op: str) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(np.shape(x) for x in xs))
    except ValueError:
        raise ValueError(f"{op}: shapes {[np.shape(x) for x in xs]} do not broadcast together") from None


# ------------------------------------------------------------------- unary
def sqrt_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Square root, elementwise (nan below zero, as numpy and ONNX)."""
    y = np.sqrt(x)
    return y, y


def sqrt_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy * 0.5 / cache,)


def exp_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """e ** x, elementwise."""
    y = np.exp(x)
    return y, y


def exp_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy * cache,)


def log_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Natural logarithm, elementwise."""
    return np.log(x), x


def log_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy / cache,)


def neg_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """-x."""
    return np.negative(x), x.shape


def neg_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (np.negative(dy),)


def abs_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """|x|; the gradient at 0 is 0 (the subgradient torch uses)."""
    return np.abs(x), np.sign(x)


def abs_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy * cache,)


def reciprocal_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """1 / x."""
    y = np.reciprocal(x)
    return y, y


def reciprocal_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (-dy * cache * cache,)


def erf_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """The error function (the Cody approximation of :func:`.activation.erf`)."""
    return erf(x), x


def erf_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x = cache
    return (dy * (_TWO_OVER_SQRT_PI * np.exp(-x * x)).astype(x.dtype),)


# ------------------------------------------------------------- pow and clip
def pow_forward(base: np.ndarray, exponent: np.ndarray | float) -> tuple[np.ndarray, Any]:
    """base ** exponent (broadcast), in the base's dtype.

    The exponent's gradient ``y * log(base)`` is defined for ``base > 0`` only;
    where ``base <= 0`` it is taken as 0 (a negative base has a real power only
    at integer exponents, where the power is not differentiable in the exponent).
    """
    base = np.asarray(base)
    exponent = np.asarray(exponent)
    _shape_check(base, exponent, op="pow")
    y = np.power(base, exponent).astype(base.dtype, copy=False)
    return y, (base, exponent, y)


def pow_base_grad(dy: np.ndarray, cache: Any) -> np.ndarray | None:
    """The base's gradient ``dy * exponent * base ** (exponent - 1)`` alone (None for an integer base)."""
    base, exponent, _ = cache
    if not np.issubdtype(base.dtype, np.floating):
        return None
    dbase = dy * exponent * np.power(base, exponent - 1)
    return unbroadcast(dbase.astype(base.dtype, copy=False), base.shape)


def pow_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(dbase, dexponent)``; an integer operand gets None."""
    base, exponent, y = cache
    if not np.issubdtype(exponent.dtype, np.floating):
        return pow_base_grad(dy, cache), None
    positive = base > 0
    log_base = np.log(np.where(positive, base, 1))
    dexp = np.where(positive, dy * y * log_base, 0)
    return pow_base_grad(dy, cache), unbroadcast(dexp.astype(exponent.dtype, copy=False), exponent.shape)


def clip_forward(x: np.ndarray, min: float | None = None, max: float | None = None,
                 keep_mask: bool = True) -> tuple[np.ndarray, Any]:
    """Clamp ``x`` to ``[min, max]`` (either bound may be None), in one pass over ``x``.

    When ``min > max`` every output is ``max``, as in ONNX Clip. The gradient
    passes where ``min <= x <= max`` (bounds included, as torch.clamp). With
    ``keep_mask=False`` (inference, as :func:`~.activation.relu_forward`) no mask is
    made: the cache is the output, and the backward lets the gradient through where
    it lies strictly inside the bounds.
    """
    lo = None if min is None else np.asarray(min, dtype=x.dtype)
    hi = None if max is None else np.asarray(max, dtype=x.dtype)
    if lo is None and hi is None:
        y = x.copy()
    else:
        y = np.clip(x, lo, hi) if lo is not None and hi is not None else (
            np.maximum(x, lo) if hi is None else np.minimum(x, hi))
    if not keep_mask:
        return y, (y, lo, hi)
    inside = np.ones(x.shape, dtype=bool)
    if lo is not None:
        inside &= x >= lo
    if hi is not None:
        inside &= x <= hi
    return y, inside


def clip_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    if isinstance(cache, tuple):  # keep_mask=False: strictly inside the bounds, read from the output
        y, lo, hi = cache
        inside = np.ones(y.shape, dtype=bool) if lo is None else y > lo
        if hi is not None:
            inside &= y < hi
        cache = inside
    return (np.where(cache, dy, 0).astype(dy.dtype, copy=False),)


# ------------------------------------------------------------ n-ary merges
def _extremum(xs: tuple[np.ndarray, ...], op: str, better: Callable) -> tuple[np.ndarray, Any]:
    if not xs:
        raise ValueError(f"{op}: needs at least one input")
    shape = _shape_check(*xs, op=op)
    y = np.broadcast_to(xs[0], shape).copy()
    winner = np.zeros(shape, dtype=np.intp)
    for i, x in enumerate(xs[1:], start=1):
        take = better(x, y)
        y = np.where(take, x, y)
        winner[take] = i
    return y.astype(xs[0].dtype, copy=False), (winner, [x.shape for x in xs])


def _extremum_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    winner, shapes = cache
    return tuple(unbroadcast(np.where(winner == i, dy, 0).astype(dy.dtype, copy=False), s)
                 for i, s in enumerate(shapes))


def _extremum_infer(xs: tuple[np.ndarray, ...], op: str, better: Callable) -> np.ndarray:
    """:func:`_extremum`'s output (the same comparisons, so the same NaN handling) without the winner index."""
    if not xs:
        raise ValueError(f"{op}: needs at least one input")
    if len(xs) == 2:  # the common case: np.where broadcasts (and refuses) as the general path does
        try:
            return np.where(better(xs[1], xs[0]), xs[1], xs[0]).astype(np.asarray(xs[0]).dtype, copy=False)
        except ValueError:
            pass
    shape = _shape_check(*xs, op=op)
    y = np.broadcast_to(xs[0], shape)
    for x in xs[1:]:
        y = np.where(better(x, y), x, y)
    return y.astype(xs[0].dtype, copy=len(xs) == 1)


def max_infer(*xs: np.ndarray) -> np.ndarray:
    """:func:`max_forward`'s output without the gradient's winner index."""
    return _extremum_infer(xs, "max", np.greater)


def min_infer(*xs: np.ndarray) -> np.ndarray:
    """:func:`min_forward`'s output without the gradient's winner index."""
    return _extremum_infer(xs, "min", np.less)


def max_forward(*xs: np.ndarray) -> tuple[np.ndarray, Any]:
    """Elementwise maximum of one or more inputs (ties: the first input wins the gradient)."""
    return _extremum(xs, "max", np.greater)


def max_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    return _extremum_backward(dy, cache)


def min_forward(*xs: np.ndarray) -> tuple[np.ndarray, Any]:
    """Elementwise minimum of one or more inputs (ties: the first input wins the gradient)."""
    return _extremum(xs, "min", np.less)


def min_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    return _extremum_backward(dy, cache)


def mean_forward(*xs: np.ndarray) -> tuple[np.ndarray, Any]:
    """Elementwise mean of one or more inputs (ONNX Mean)."""
    if not xs:
        raise ValueError("mean: needs at least one input")
    _shape_check(*xs, op="mean")
    total = xs[0] + xs[1] if len(xs) > 1 else xs[0].copy()
    for x in xs[2:]:
        total = total + x
    return (total / len(xs)).astype(xs[0].dtype, copy=False), [x.shape for x in xs]


def mean_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    share = dy / len(cache)
    return tuple(unbroadcast(share, s) for s in cache)


def where_forward(cond: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """``a`` where ``cond`` else ``b`` (all three broadcast; a non-boolean ``cond`` means ``cond != 0``).

    Backward returns ``(None, da, db)``: the condition gets no gradient.
    """
    _shape_check(cond, a, b, op="where")
    mask = np.asarray(cond).astype(bool, copy=False)
    return np.where(mask, a, b), (mask, a.shape, b.shape)


def where_backward(dy: np.ndarray, cache: Any) -> tuple[None, np.ndarray, np.ndarray]:
    mask, a_shape, b_shape = cache
    zero = np.zeros((), dy.dtype)
    return None, unbroadcast(np.where(mask, dy, zero), a_shape), unbroadcast(np.where(mask, zero, dy), b_shape)


# ------------------------------------------------- comparisons and logic
#: the numpy ufunc of each comparison :func:`compare` knows
COMPARISONS = {"equal": np.equal, "less": np.less, "greater": np.greater,
               "less_equal": np.less_equal, "greater_equal": np.greater_equal}
_LOGIC = {"not": (np.logical_not, 1), "and": (np.logical_and, 2), "or": (np.logical_or, 2),
          "xor": (np.logical_xor, 2)}


def compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Boolean ``a <op> b`` (broadcast) for ``op`` in equal, less, greater, less_equal, greater_equal.

    Examples:
        >>> compare("less", np.array([1, 5]), np.array(3))
        array([ True, False])
    """
    if op not in COMPARISONS:
        raise ValueError(f"compare: unknown comparison {op!r}; known: {sorted(COMPARISONS)}")
    _shape_check(a, b, op=op)
    return COMPARISONS[op](a, b)


def logical(op: str, *xs: np.ndarray) -> np.ndarray:
    """Boolean ``not x``, ``a and b``, ``a or b``, ``a xor b`` (non-boolean inputs mean ``!= 0``)."""
    if op not in _LOGIC:
        raise ValueError(f"logical: unknown operation {op!r}; known: {sorted(_LOGIC)}")
    fn, arity = _LOGIC[op]
    if len(xs) != arity:
        raise ValueError(f"{op}: expected {arity} input(s), got {len(xs)}")
    _shape_check(*xs, op=op)
    return fn(*(np.asarray(x).astype(bool, copy=False) for x in xs))
