"""Cumulative sums and products along an axis (ONNX CumSum, CumProd), forward/backward pairs.

``exclusive`` leaves the current element out (the first output is 0 for a sum, 1 for
a product); ``reverse`` runs from the end of the axis. Both are reduced to the plain
inclusive forward scan: flip the axis for ``reverse``, shift the input by one (the
identity element first) for ``exclusive``; the backward undoes the same steps.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _prepare(x: np.ndarray, axis: int, exclusive: bool, reverse: bool, identity: int) -> tuple[np.ndarray, int]:
    """``x`` moved to scan order (flipped if ``reverse``, shifted if ``exclusive``), and the axis."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"cumulative: axis {axis} is out of range for a {x.ndim}-D input")
    axis %= x.ndim
    scan = np.flip(x, axis) if reverse else x
    if exclusive:
        first = np.full_like(np.take(scan, [0], axis=axis), identity)
        scan = np.concatenate([first, np.take(scan, range(x.shape[axis] - 1), axis=axis)], axis=axis)
    return scan, axis


def _finish(scan_grad: np.ndarray, axis: int, exclusive: bool, reverse: bool) -> np.ndarray:
    """The gradient of the scan's input mapped back to the gradient of ``x`` (the inverse of :func:`_prepare`)."""
    if exclusive:
        zero = np.zeros_like(np.take(scan_grad, [0], axis=axis))
        scan_grad = np.concatenate([np.take(scan_grad, range(1, scan_grad.shape[axis]), axis=axis), zero], axis=axis)
    return np.flip(scan_grad, axis) if reverse else scan_grad


def cumsum_forward(x: np.ndarray, axis: int = 0, exclusive: bool = False,
                   reverse: bool = False) -> tuple[np.ndarray, Any]:
    """Running sum along ``axis`` (dtype kept)."""
    scan, axis = _prepare(x, axis, exclusive, reverse, 0)
    y = np.cumsum(scan, axis=axis, dtype=x.dtype)
    return (np.flip(y, axis) if reverse else y), (axis, exclusive, reverse)


def cumsum_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    axis, exclusive, reverse = cache
    scan_dy = np.flip(dy, axis) if reverse else dy
    scan_grad = np.flip(np.cumsum(np.flip(scan_dy, axis), axis=axis), axis)
    return (_finish(scan_grad, axis, exclusive, reverse),)


def cumprod_forward(x: np.ndarray, axis: int = 0, exclusive: bool = False,
                    reverse: bool = False) -> tuple[np.ndarray, Any]:
    """Running product along ``axis`` (dtype kept); the backward is exact where elements are 0."""
    scan, axis = _prepare(x, axis, exclusive, reverse, 1)
    y = np.cumprod(scan, axis=axis, dtype=x.dtype)
    return (np.flip(y, axis) if reverse else y), (scan, y, axis, exclusive, reverse)


def cumprod_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """``d x_i = P_{i-1} * S_i`` with ``P`` the running product and ``S_i = dy_i + x_{i+1} * S_{i+1}``."""
    scan, y, axis, exclusive, reverse = cache
    scan_dy = np.moveaxis(np.flip(dy, axis) if reverse else dy, axis, 0)
    xs = np.moveaxis(scan, axis, 0)
    before = np.moveaxis(y, axis, 0)  # P_i, in scan order
    grad = np.empty_like(scan_dy)
    running = np.zeros_like(scan_dy[0])
    for i in range(xs.shape[0] - 1, -1, -1):
        running = scan_dy[i] + (xs[i + 1] * running if i + 1 < xs.shape[0] else 0)
        grad[i] = (before[i - 1] if i else 1) * running
    return (_finish(np.moveaxis(grad, 0, axis), axis, exclusive, reverse),)
