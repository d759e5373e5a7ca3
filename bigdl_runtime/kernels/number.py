"""Number-level functions, elementwise: rounding (ceil, floor, round half to even), sign, the float
remainder (ONNX Mod), NaN/infinity tests, integer bit operations and bit reinterpretation.

Rounding and sign are piecewise constant: their backward is zero (the derivative
almost everywhere, as torch). The remainder is differentiable in both operands for
floats. The NaN/infinity tests return booleans and the bit operations work on
integers only: they are plain functions, with no gradient.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .elementwise import unbroadcast
from .trig import unary_pair


# piecewise constant: the derivative is zero (almost everywhere)
ceil_forward, ceil_backward = unary_pair("ceil", np.ceil, np.zeros_like)
floor_forward, floor_backward = unary_pair("floor", np.floor, np.zeros_like)
round_forward, round_backward = unary_pair("round", np.rint, np.zeros_like)  # halves to even, as ONNX Round
sign_forward, sign_backward = unary_pair("sign", np.sign, np.zeros_like)


def mod_forward(a: np.ndarray, b: np.ndarray, fmod: bool = False) -> tuple[np.ndarray, Any]:
    """The remainder of ``a / b`` (broadcast; ONNX Mod).

    ``fmod=False``: the sign of the divisor (Python's ``%``; integers only in ONNX);
    ``fmod=True``: the sign of the dividend (C's ``fmod``). Integer division by 0
    gives 0 (numpy's convention; ONNX leaves it undefined).

    Backward (floats): ``da = dy``, ``db = -dy * q`` with ``q`` the quotient rounded
    toward -inf (``fmod=False``) or toward zero (``fmod=True``); integers get None.
    """
    a, b = np.asarray(a), np.asarray(b)
    np.broadcast_shapes(a.shape, b.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.fmod(a, b) if fmod else np.mod(a, b)
    return y.astype(np.result_type(a, b), copy=False), (a, b, fmod)


def mod_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    a, b, fmod = cache
    if not np.issubdtype(a.dtype, np.floating):
        return None, None
    quotient = np.trunc(a / b) if fmod else np.floor(a / b)
    return unbroadcast(dy, a.shape), unbroadcast((-dy * quotient).astype(b.dtype, copy=False), b.shape)


def isnan(x: np.ndarray) -> np.ndarray:
    """Boolean: x is NaN."""
    return np.isnan(x)


def isinf(x: np.ndarray, detect_negative: bool = True, detect_positive: bool = True) -> np.ndarray:
    """Boolean: x is -inf (if ``detect_negative``) or +inf (if ``detect_positive``)."""
    return (np.isneginf(x) & detect_negative) | (np.isposinf(x) & detect_positive)


_BITWISE = {"and": np.bitwise_and, "or": np.bitwise_or, "xor": np.bitwise_xor}


def _need_integers(op: str, *xs: np.ndarray) -> None:
    for x in xs:
        if not (np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_):
            raise ValueError(f"{op}: integer inputs only, got {x.dtype}")


def bitwise(op: str, a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """``a & b``, ``a | b``, ``a ^ b`` (broadcast) or ``~a`` for ``op`` in and, or, xor, not."""
    if op == "not":
        _need_integers(op, a)
        return np.invert(a)
    if op not in _BITWISE:
        raise ValueError(f"bitwise: unknown operation {op!r}; known: {sorted(_BITWISE) + ['not']}")
    _need_integers(op, a, b)
    return _BITWISE[op](a, b)


def bit_shift(x: np.ndarray, shift: np.ndarray, direction: str) -> np.ndarray:
    """``x << shift`` (direction ``"LEFT"``) or ``x >> shift`` (``"RIGHT"``), integers, broadcast.

    Right shifts of signed integers are arithmetic. A shift by the type's width or more
    drops every bit: 0, or -1 for a negative signed value shifted right.
    """
    _need_integers("bit_shift", x, shift)
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"bit_shift: direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    width = x.dtype.itemsize * 8
    amount = np.asarray(shift).astype(x.dtype)
    inside = amount < width
    safe = np.where(inside, amount, 0).astype(x.dtype)
    shifted = np.left_shift(x, safe) if direction == "LEFT" else np.right_shift(x, safe)
    beyond = np.where(x < 0, -1, 0) if direction == "RIGHT" and x.dtype.kind == "i" else 0
    return np.where(inside, shifted, beyond).astype(x.dtype)


def bit_cast(x: np.ndarray, dtype: np.dtype | str) -> np.ndarray:
    """The same bits read as ``dtype``, which must have ``x``'s item size (ONNX BitCast)."""
    dtype = np.dtype(dtype)
    if dtype.itemsize != x.dtype.itemsize:
        raise ValueError(f"bit_cast: {x.dtype} ({x.dtype.itemsize * 8} bits) and {dtype} ({dtype.itemsize * 8} "
                         "bits) differ in width")
    return np.require(x, requirements="C").view(dtype)
