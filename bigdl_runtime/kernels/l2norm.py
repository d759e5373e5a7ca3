"""L2 normalisation with a learned scale (SSD's Normalize layer, BigDL's NormalizeScale).

For ``x`` of shape ``(N, C, *spatial)``:

    across_spatial:     y = x / sqrt(sum_{c, h, w} x^2 + eps) * scale   (one norm per sample)
    not across_spatial: y = x / sqrt(sum_c x^2 + eps) * scale           (one norm per pixel)

``scale`` is ``(1,)`` (shared by all channels) or ``(C,)``.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _scale_view(scale: np.ndarray, x: np.ndarray) -> np.ndarray:
    if scale.shape not in ((1,), (x.shape[1],)):
        raise ValueError(f"l2_normalize: scale has shape {scale.shape}, expected (1,) or ({x.shape[1]},) "
                         f"for input {x.shape}")
    return scale.reshape((1, scale.size) + (1,) * (x.ndim - 2))


def l2_normalize_forward(x: np.ndarray, scale: np.ndarray, across_spatial: bool = True,
                         eps: float = 1e-10) -> tuple[np.ndarray, Any]:
    """Divide by the L2 norm (per sample or per pixel) and multiply by ``scale``.

    Args:
        x: input ``(N, C, *spatial)``.
        scale: ``(1,)`` or ``(C,)``.
        across_spatial: one norm over all of a sample's values, else one per spatial position.
        eps: added to the sum of squares before the square root.

    Returns:
        ``y`` (shape of ``x``) and the cache.

    Examples:
        >>> y, _ = l2_normalize_forward(np.full((1, 4, 1, 1), 3.0), np.ones(1))
        >>> float(y.sum() ** 2)
        4.0
    """
    if x.ndim < 2:
        raise ValueError(f"l2_normalize: expected input (N, C, *spatial), got shape {x.shape}")
    axes = tuple(range(1, x.ndim)) if across_spatial else (1,)
    norm = np.sqrt((x * x).sum(axis=axes, keepdims=True) + x.dtype.type(eps))
    z = x / norm
    w = _scale_view(scale, x)
    return z * w, (z, norm, w, axes, scale.shape)


def l2_normalize_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    """Gradients ``(dx, dscale)`` of :func:`l2_normalize_forward`."""
    z, norm, w, axes, scale_shape = cache
    dz = dy * w
    dx = (dz - z * (dz * z).sum(axis=axes, keepdims=True)) / norm
    per_channel = (dy * z).sum(axis=(0, *range(2, dy.ndim)))
    dscale = per_channel.sum(keepdims=True) if scale_shape == (1,) else per_channel
    return dx, dscale.reshape(scale_shape)
