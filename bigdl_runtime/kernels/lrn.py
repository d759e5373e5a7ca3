"""Local response normalisation kernels (Caffe/AlexNet LRN), across channels and within a channel.

Both divide each value by a power of the (scaled) sum of squares in a window around it:

    across channels: y = x / (k + alpha / size * sum_{c' in window(c)} x[c']^2) ** beta
    within channel:  y = x / (k + alpha / size^2 * sum_{(h', w') in window(h, w)} x[h', w']^2) ** beta

The window of ``size`` taps covers ``[i - (size - 1) // 2, i + size // 2]`` and is clipped
at the borders (zeros outside), as Caffe and ONNX LRN (identical for the odd sizes Caffe
allows). Caffe's within-channel LRN uses ``k = 1``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _window_sum(a: np.ndarray, axes: Sequence[int], size: int, adjoint: bool = False) -> np.ndarray:
    """Sum of ``a`` over a ``size``-tap window along each of ``axes`` (zero outside the array).

    The window at index ``i`` spans ``[i - before, i + after]`` with ``before = (size - 1) // 2``
    and ``after = size // 2``; ``adjoint`` mirrors it (the transpose of the forward window sum).
    """
    before, after = (size - 1) // 2, size // 2
    if adjoint:
        before, after = after, before
    out = a
    for axis in axes:
        n = out.shape[axis]
        summed = np.zeros_like(out)
        for shift in range(-before, after + 1):
            lo, hi = max(0, -shift), min(n, n - shift)  # output indices whose source i + shift is inside
            if lo >= hi:
                continue
            dst = [slice(None)] * out.ndim
            src = [slice(None)] * out.ndim
            dst[axis] = slice(lo, hi)
            src[axis] = slice(lo + shift, hi + shift)
            summed[tuple(dst)] += out[tuple(src)]
        out = summed
    return out


def _check(x: np.ndarray, size: int, op: str, min_ndim: int) -> None:
    if x.ndim < min_ndim:
        raise ValueError(f"{op}: expected input (N, C, ...) with at least {min_ndim} axes, got shape {x.shape}")
    if int(size) < 1:
        raise ValueError(f"{op}: size must be >= 1, got {size}")


def _lrn(x: np.ndarray, axes: tuple[int, ...], size: int, alpha: float, beta: float, k: float,
         taps: int) -> tuple[np.ndarray, Any]:
    coeff = alpha / taps
    scale = k + coeff * _window_sum(x * x, axes, size)
    y = x * scale ** -beta
    return y, (x, scale, axes, size, coeff, beta)


def _lrn_grad(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x, scale, axes, size, coeff, beta = cache
    inner = dy * x * scale ** (-beta - 1)
    dx = dy * scale ** -beta - (2.0 * coeff * beta) * x * _window_sum(inner, axes, size, adjoint=True)
    return (dx,)


def lrn_across_forward(x: np.ndarray, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                       k: float = 1.0) -> tuple[np.ndarray, Any]:
    """LRN over neighbouring channels (axis 1) of ``(N, C, *spatial)``.

    Args:
        x: input with channels on axis 1.
        size: number of channels in the window.
        alpha, beta, k: ``y = x / (k + alpha / size * window_sum(x^2)) ** beta``.

    Returns:
        ``y`` (same shape) and the cache.
    """
    _check(x, size, "lrn_across", 2)
    return _lrn(x, (1,), int(size), alpha, beta, k, int(size))


def lrn_across_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """Gradient of :func:`lrn_across_forward` with respect to ``x``."""
    return _lrn_grad(dy, cache)


def lrn_within_forward(x: np.ndarray, size: int = 5, alpha: float = 1.0, beta: float = 0.75,
                       k: float = 1.0) -> tuple[np.ndarray, Any]:
    """LRN over a ``size x size`` spatial window of each channel of ``(N, C, H, W)``.

    Args:
        x: input ``(N, C, H, W)``.
        size: side of the square window.
        alpha, beta, k: ``y = x / (k + alpha / size^2 * window_sum(x^2)) ** beta`` (Caffe: ``k = 1``).

    Returns:
        ``y`` (same shape) and the cache.
    """
    _check(x, size, "lrn_within", 4)
    if x.ndim != 4:
        raise ValueError(f"lrn_within: expected input (N, C, H, W), got shape {x.shape}")
    return _lrn(x, (2, 3), int(size), alpha, beta, k, int(size) ** 2)


def lrn_within_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """Gradient of :func:`lrn_within_forward` with respect to ``x``."""
    return _lrn_grad(dy, cache)
