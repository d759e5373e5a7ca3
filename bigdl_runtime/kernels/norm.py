"""Normalisation kernels: batch norm (train and inference) and layer norm."""
from __future__ import annotations

from typing import Any

import numpy as np


def _channel_shape(x: np.ndarray) -> tuple[int, ...]:
    """Broadcast shape of a per-channel vector against ``(N, C, *spatial)``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def batch_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None,
                       running_mean: np.ndarray | None, running_var: np.ndarray | None, training: bool,
                       eps: float = 1e-5) -> tuple[np.ndarray, Any]:
    """Normalise each channel of ``(N, C)`` or ``(N, C, *spatial)``.

    Args:
        x: input; statistics are taken over every axis except 1.
        gamma, beta: optional per-channel scale and shift ``(C,)``.
        running_mean, running_var: per-channel statistics used when not training
            (may be None when training).
        training: use the batch's statistics (biased variance) instead of the running ones.
        eps: added to the variance.

    Returns:
        ``y`` and the cache. In training the cache also holds ``"mean"``, ``"var"``
        (biased) and ``"count"`` (elements per channel), from which the caller updates
        its running statistics (PyTorch uses ``var * count / (count - 1)``).
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C) or (N, C, *spatial), got shape {x.shape}")
    channels = x.shape[1]
    for what, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if v is not None and v.shape != (channels,):
            raise ValueError(f"batch_norm: {what} has shape {v.shape}, expected ({channels},) for input {x.shape}")
    shape = _channel_shape(x)
    axes = (0, *range(2, x.ndim))
    count = x.size // channels
    if training:
        if count < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input {x.shape}")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: inference needs running_mean and running_var")
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    y = xhat * gamma.reshape(shape) if gamma is not None else xhat.copy()
    if beta is not None:
        y += beta.reshape(shape)
    cache = {"training": training, "xhat": xhat, "inv_std": inv_std, "gamma": gamma, "has_beta": beta is not None,
             "mean": mean, "var": var, "count": count}
    return y, cache


def batch_norm_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None,
                                                           None, None]:
    """Gradients ``(dx, dgamma, dbeta, None, None)`` (running statistics get none).

    In training the batch statistics depend on ``x``, which adds the two mean
    terms; in inference ``dx`` is a per-channel scaling of ``dy``.
    """
    xhat, inv_std, gamma = cache["xhat"], cache["inv_std"], cache["gamma"]
    shape = _channel_shape(dy)
    axes = (0, *range(2, dy.ndim))
    dbeta = dy.sum(axis=axes)
    dgamma = (dy * xhat).sum(axis=axes)
    scale = inv_std if gamma is None else gamma * inv_std
    if cache["training"]:
        m = cache["count"]
        dx = (dy - (dbeta / m).reshape(shape) - xhat * (dgamma / m).reshape(shape)) * scale.reshape(shape)
    else:
        dx = dy * scale.reshape(shape)
    return dx, dgamma if gamma is not None else None, dbeta if cache["has_beta"] else None, None, None


def layer_norm_forward(x: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, normalized_ndim: int,
                       eps: float = 1e-5) -> tuple[np.ndarray, Any]:
    """Normalise over the last ``normalized_ndim`` axes of ``x``.

    Args:
        x: input ``(*, *normalized_shape)``.
        gamma, beta: optional element-wise scale and shift shaped ``normalized_shape``.
        normalized_ndim: how many trailing axes form one normalised group.
        eps: added to the variance.

    Returns:
        ``y`` (same shape as ``x``) and the cache.
    """
    if not 1 <= normalized_ndim <= x.ndim:
        raise ValueError(f"layer_norm: cannot normalise the last {normalized_ndim} axes of shape {x.shape}")
    norm_shape = x.shape[x.ndim - normalized_ndim:]
    for what, v in (("gamma", gamma), ("beta", beta)):
        if v is not None and v.shape != norm_shape:
            raise ValueError(f"layer_norm: {what} has shape {v.shape}, expected {norm_shape} for input {x.shape}")
    axes = tuple(range(x.ndim - normalized_ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    xhat = (x - mean) * inv_std
    y = xhat * gamma if gamma is not None else xhat.copy()
    if beta is not None:
        y += beta
    return y, (xhat, inv_std, gamma, beta is not None, axes)


def layer_norm_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Gradients ``(dx, dgamma, dbeta)``."""
    xhat, inv_std, gamma, has_beta, axes = cache
    lead = tuple(range(dy.ndim - len(axes)))
    dxhat = dy * gamma if gamma is not None else dy
    dx = inv_std * (dxhat - dxhat.mean(axis=axes, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True))
    dgamma = (dy * xhat).sum(axis=lead) if gamma is not None else None
    dbeta = dy.sum(axis=lead) if has_beta else None
    return dx, dgamma, dbeta
