"""Instance normalisation: each (sample, channel) plane normalised over its spatial axes.

Built on :func:`.norm.layer_norm_forward` (a layer norm over the trailing spatial
axes of ``(N, C, *spatial)``) followed by a per-channel scale and shift.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .norm import layer_norm_backward, layer_norm_forward


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def instance_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                          eps: float = 1e-5) -> tuple[np.ndarray, Any]:
    """``(x - mean) / sqrt(var + eps) * gamma + beta``, statistics per sample and channel (ONNX InstanceNormalization).

    Args:
        x: ``(N, C, *spatial)`` with at least one spatial axis.
        gamma, beta: optional per-channel scale and shift ``(C,)``.
        eps: added to the (biased) variance.

    Returns:
        ``y`` (same shape as ``x``) and the cache.
    """
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input (N, C, *spatial) with a spatial axis, got shape {x.shape}")
    channels = x.shape[1]
    for what, v in (("gamma", gamma), ("beta", beta)):
        if v is not None and v.shape != (channels,):
            raise ValueError(f"instance_norm: {what} has shape {v.shape}, expected ({channels},) for input {x.shape}")
    xhat, norm_cache = layer_norm_forward(x, None, None, x.ndim - 2, eps)
    shape = _channel_shape(x)
    y = xhat * gamma.reshape(shape).astype(x.dtype, copy=False) if gamma is not None else xhat.copy()
    if beta is not None:
        y += beta.reshape(shape).astype(x.dtype, copy=False)
    return y, (norm_cache, xhat, gamma, beta is not None)


def instance_norm_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Gradients ``(dx, dgamma, dbeta)`` (None for an absent gamma/beta)."""
    norm_cache, xhat, gamma, has_beta = cache
    axes = (0, *range(2, dy.ndim))
    dgamma = (dy * xhat).sum(axis=axes) if gamma is not None else None
    dbeta = dy.sum(axis=axes) if has_beta else None
    dxhat = dy * gamma.reshape(_channel_shape(dy)) if gamma is not None else dy
    dx = layer_norm_backward(dxhat, norm_cache)[0]
    return dx, dgamma, dbeta
