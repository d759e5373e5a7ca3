"""Linear algebra on the last two axes: the determinant (ONNX Det), a forward/backward pair."""
from __future__ import annotations

from typing import Any

import numpy as np


def det_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """The determinant of each square matrix ``x[..., :, :]`` (dtype kept)."""
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"det: expected square matrices (..., n, n), got shape {x.shape}")
    y = np.linalg.det(x).astype(x.dtype, copy=False)
    return y, (x, y)


def det_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """``dx = dy * det(x) * inv(x)^T`` (Jacobi's formula; the matrices must be invertible)."""
    x, y = cache
    try:
        inverse = np.linalg.inv(x)
    except np.linalg.LinAlgError:
        raise ValueError("det: the gradient needs invertible matrices, a matrix is singular") from None
    scale = (np.asarray(dy) * y)[..., None, None]
    return ((scale * np.swapaxes(inverse, -1, -2)).astype(x.dtype, copy=False),)
