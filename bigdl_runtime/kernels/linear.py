"""Fully connected (affine) kernel: ``y = x @ w.T + b`` over the last axis."""
from __future__ import annotations

from typing import Any

import numpy as np

from .gemm import matmul


def linear_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
    """Affine map of the last axis.

    Args:
        x: input ``(..., in)``.
        w: weight ``(out, in)``.
        b: optional bias ``(out,)``.

    Returns:
        ``y`` of shape ``(..., out)`` and the cache for :func:`linear_backward`.
    """
    if x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features, weight {w.shape} expects {w.shape[1]}")
    y = matmul(x, w.T)
    if b is not None:
        y += b
    return y, (x, w, b is not None)


def linear_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients ``(dx, dw, db)``; ``db`` is None when the forward had no bias."""
    x, w, has_bias = cache
    dy2 = dy.reshape(-1, dy.shape[-1])
    dx = matmul(dy, w)
    dw = matmul(dy2.T, x.reshape(-1, x.shape[-1]))
    db = dy2.sum(axis=0) if has_bias else None
    return dx, dw, db
