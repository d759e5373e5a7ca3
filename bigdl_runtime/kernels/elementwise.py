"""Elementwise arithmetic with numpy broadcasting: add (n inputs), sub, mul, div.

Each input's gradient is summed back to that input's own shape (over the
axes broadcasting added or stretched). Gradients may share memory with ``dy``;
treat them as read-only.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np


@functools.lru_cache(maxsize=64)
def typed(value: float, dtype: np.dtype) -> np.ndarray:
    """``value`` as a read-only 0-d array of ``dtype``: the constant operand of an in-place ufunc on a small
    array, which numpy takes at half the cost of a Python or numpy scalar (converted on every call: adding
    ``1`` to 128 values took 0.53 us, adding this 0.23 us)."""
    array = np.array(value, dtype)
    array.flags.writeable = False
    return array


def out_for(a: np.ndarray) -> np.ndarray | None:
    """``a`` as the ``out=`` of a ufunc writing in place, or None (a new array) when ``a`` holds one value: numpy
    takes 0.4 us longer to write into a one-value array than to make a new one (0.72 against 0.26 us an add)."""
    return a if a.size > 1 else None


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` (shaped like a broadcast result) down to ``shape``, the shape of one operand."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return np.asarray(grad.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape))


def _broadcast_shape(*xs: np.ndarray, op: str) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(x.shape for x in xs))
    except ValueError:
        raise ValueError(f"{op}: shapes {[x.shape for x in xs]} do not broadcast together") from None


def add_forward(*xs: np.ndarray) -> tuple[np.ndarray, Any]:
    """x0 + x1 + ... (one or more inputs, broadcast together)."""
    if not xs:
        raise ValueError("add: needs at least one input")
    _broadcast_shape(*xs, op="add")
    return functools.reduce(np.add, xs), [x.shape for x in xs]


def add_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    return tuple(unbroadcast(dy, shape) for shape in cache)


def sub_forward(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """a - b."""
    _broadcast_shape(a, b, op="sub")
    return a - b, (a.shape, b.shape)


def sub_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    a_shape, b_shape = cache
    return unbroadcast(dy, a_shape), unbroadcast(-dy, b_shape)


def mul_forward(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """a * b."""
    _broadcast_shape(a, b, op="mul")
    return a * b, (a, b)


def mul_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = cache
    return unbroadcast(dy * b, a.shape), unbroadcast(dy * a, b.shape)


def div_forward(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Any]:
    """a / b."""
    _broadcast_shape(a, b, op="div")
    y = a / b
    return y, (a.shape, b, y)


def div_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    a_shape, b, y = cache
    da = dy / b
    return unbroadcast(da, a_shape), unbroadcast(-da * y, b.shape)
