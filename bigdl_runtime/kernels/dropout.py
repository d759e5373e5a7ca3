"""Inverted dropout: zero each element with probability ``p``, scale the rest by ``1 / (1 - p)``."""
from __future__ import annotations

from typing import Any

import numpy as np


def dropout_forward(x: np.ndarray, p: float, training: bool, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    """Inverted dropout.

    Args:
        x: input of any shape.
        p: probability of zeroing an element, in ``[0, 1]``.
        training: drop only in training; inference is the identity.
        rng: generator the mask is drawn from (one uniform draw per element).

    Returns:
        ``y`` (same shape and dtype as ``x``) and the cache (the scaled mask, or None for the identity).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x, None
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    keep = rng.random(x.shape, dtype=dtype) >= p
    mask = keep * np.asarray(1.0 / (1.0 - p) if p < 1.0 else 0.0, dtype=x.dtype)
    return x * mask, mask


def dropout_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """``dx = dy * mask`` (the same scaled mask as the forward)."""
    mask = cache
    return (dy if mask is None else dy * mask,)
