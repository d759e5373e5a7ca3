"""Per-channel affine and power kernels (Caffe's Scale, Bias and Power layers).

``channel_affine`` multiplies by a learned ``weight`` and adds a learned ``bias`` whose
shape covers a run of the input's axes starting at ``axis`` (for ``(N, C, H, W)`` and
``axis = 1``: ``(C,)`` is per channel, ``(C, H)`` per channel and row, ``()`` a scalar),
broadcast over the remaining ones. ``power`` is ``y = (shift + scale * x) ** power``.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _param_view(p: np.ndarray, x_shape: tuple[int, ...], axis: int, what: str) -> np.ndarray:
    """``p`` reshaped to broadcast against an input of ``x_shape`` with its axes starting at ``axis``."""
    end = axis + p.ndim
    if end > len(x_shape) or tuple(x_shape[axis:end]) != p.shape:
        raise ValueError(f"channel_affine: {what} of shape {p.shape} does not match input {tuple(x_shape)} "
                         f"from axis {axis} (expected {tuple(x_shape[axis:end])})")
    return p.reshape((1,) * axis + p.shape + (1,) * (len(x_shape) - end))


def _reduce_to(g: np.ndarray, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over every axis outside ``[axis, axis + len(shape))``, giving ``shape``."""
    outer = tuple(range(axis)) + tuple(range(axis + len(shape), g.ndim))
    return (g.sum(axis=outer) if outer else g.copy()).reshape(shape)


def channel_affine_forward(x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None,
                           axis: int = 1) -> tuple[np.ndarray, Any]:
    """``y = x * weight + bias`` with the parameters laid along ``x``'s axes from ``axis``.

    Args:
        x: input of any rank.
        weight: multiplier (None: none) whose shape equals ``x.shape[axis:axis + weight.ndim]``.
        bias: addend (None: none), same rule as ``weight``.
        axis: first input axis the parameters cover (negative counts from the end).

    Returns:
        ``y`` (shape of ``x``) and the cache.

    Examples:
        >>> y, _ = channel_affine_forward(np.ones((2, 3, 4, 4)), np.arange(3.0), None)  # per-channel scale
    """
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis <= x.ndim:
        raise ValueError(f"channel_affine: axis {axis} is out of range for input {x.shape}")
    y = x * _param_view(weight, x.shape, axis, "weight") if weight is not None else x.copy()
    if bias is not None:
        y += _param_view(bias, x.shape, axis, "bias")
    cache = (x if weight is not None else None, weight, None if bias is None else bias.shape, axis)
    return y, cache


def channel_affine_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Gradients ``(dx, dweight, dbias)`` of :func:`channel_affine_forward` (None for an absent parameter)."""
    x, weight, bias_shape, axis = cache
    if weight is None:
        dx, dw = dy.copy(), None
    else:
        dx = dy * _param_view(weight, dy.shape, axis, "weight")
        dw = _reduce_to(dy * x, axis, weight.shape)
    db = None if bias_shape is None else _reduce_to(dy, axis, bias_shape)
    return dx, dw, db


def power_forward(x: np.ndarray, power: float = 1.0, scale: float = 1.0, shift: float = 0.0) -> tuple[np.ndarray, Any]:
    """``y = (shift + scale * x) ** power`` elementwise (Caffe's Power layer).

    A negative base with a fractional power gives NaN, as in Caffe.

    Returns:
        ``y`` and the cache.

    Examples:
        >>> power_forward(np.array([1.0, 2.0]), power=2.0, scale=3.0, shift=1.0)[0]
        array([16., 49.])
    """
    base = x * x.dtype.type(scale) + x.dtype.type(shift)
    if power == 1.0:
        y = base
    elif power == 2.0:
        y = base * base
    else:
        y = base ** x.dtype.type(power)
    return y, (base, float(power), float(scale))


def power_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """``dx = dy * power * scale * (shift + scale * x) ** (power - 1)``."""
    base, power, scale = cache
    if power == 0.0 or scale == 0.0:
        return (np.zeros_like(dy),)
    if power == 1.0:
        return (dy * dy.dtype.type(scale),)
    slope = base ** dy.dtype.type(power - 1.0) if power != 2.0 else base
    return (dy * dy.dtype.type(power * scale) * slope,)
