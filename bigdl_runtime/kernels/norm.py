"""Normalisation kernels: batch norm (train and inference) and layer norm."""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .elementwise import out_for
from .gemm import OPENBLAS_SINGLE_MACS, matmul
from .threads import parallel_batches


def _rows(x: np.ndarray) -> np.ndarray:
    """``x`` as ``(N, C, rest)``: per-channel reductions become a contiguous-row sum then a sum over N."""
    return np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)


def _channel_sum(x3: np.ndarray) -> np.ndarray:
    """Per-channel sum of ``(N, C, L)`` (pairwise summation along the contiguous rows)."""
    return x3.sum(axis=2).sum(axis=0)


def _channel_dot(a3: np.ndarray, b3: np.ndarray) -> np.ndarray:
    """Per-channel sum of ``a * b`` over ``(N, C, L)`` without materialising the product."""
    return np.einsum("ncl,ncl->nc", a3, b3).sum(axis=0)


def _over_batch(fn: Any, x3: np.ndarray) -> list[Any]:
    """``fn(n0, n1)`` over ranges of the batch axis of ``x3``, on the kernel worker threads."""
    return parallel_batches(fn, x3.shape[0], x3.size)


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

    Work: in training two reading passes for the statistics (the variance from the centred
    values, as a per-row dot product), then the centred values are scaled in place into the
    cached ``xhat`` and ``y = xhat * gamma + beta`` is one multiply and one in-place add. In
    inference ``y = x * s + t`` with per-channel ``s, t`` (two passes, ``x`` cached by reference).
    Every pass runs over ranges of the batch on the kernel worker threads.
    """
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C) or (N, C, *spatial), got shape {x.shape}")
    channels = x.shape[1]
    for what, v in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        if v is not None and v.shape != (channels,):
            raise ValueError(f"batch_norm: {what} has shape {v.shape}, expected ({channels},) for input {x.shape}")
    x3 = _rows(x)
    count = x3.shape[0] * x3.shape[2]
    dt = x.dtype
    xhat = None
    if training:
        if count < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, got input {x.shape}")
        mean = sum(_over_batch(lambda a, b: _channel_sum(x3[a:b]), x3)) / dt.type(count)
        xhat = np.empty_like(x3)

        def centre(a: int, b: int) -> np.ndarray:
            np.subtract(x3[a:b], mean[:, None], out=xhat[a:b])
            return _channel_dot(xhat[a:b], xhat[a:b])

        var = sum(_over_batch(centre, x3)) / dt.type(count)
    elif running_mean is None or running_var is None:
        raise ValueError("batch_norm: inference needs running_mean and running_var")
    else:
        mean, var = running_mean.astype(dt), running_var.astype(dt)
    inv_std = (1.0 / np.sqrt(var + eps)).astype(dt)
    cache = {"training": training, "inv_std": inv_std, "gamma": gamma, "has_beta": beta is not None,
             "mean": mean, "var": var, "count": count, "shape": x.shape}
    y = np.empty_like(x3)
    if training:
        def normalise(a: int, b: int) -> None:
            xhat[a:b] *= inv_std[:, None]
            if gamma is None:
                y[a:b] = xhat[a:b]
            else:
                np.multiply(xhat[a:b], gamma[:, None], out=y[a:b])
            if beta is not None:
                y[a:b] += beta[:, None]

        _over_batch(normalise, x3)
        cache["xhat"] = xhat
    else:
        scale = inv_std if gamma is None else (gamma * inv_std).astype(dt)
        shift = -mean * scale if beta is None else (beta - mean * scale).astype(dt)

        def affine(a: int, b: int) -> None:
            np.multiply(x3[a:b], scale[:, None], out=y[a:b])
            y[a:b] += shift[:, None]

        _over_batch(affine, x3)
        cache["x"] = x3
    return y.reshape(x.shape), cache


def batch_norm_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None,
                                                           None, None]:
    """Gradients ``(dx, dgamma, dbeta, None, None)`` (running statistics get none).

    In training the batch statistics depend on ``x``, which adds the two mean
    terms; in inference ``dx`` is a per-channel scaling of ``dy``.
    """
    inv_std, gamma, shape = cache["inv_std"], cache["gamma"], cache["shape"]
    dy3 = _rows(dy)
    dt = dy3.dtype
    scale = inv_std if gamma is None else (gamma * inv_std).astype(dt)
    other = cache["xhat"] if cache["training"] else cache["x"]
    sums = _over_batch(lambda a, b: (_channel_sum(dy3[a:b]), _channel_dot(dy3[a:b], other[a:b])), dy3)
    dbeta = sum(s[0] for s in sums)
    dx = np.empty_like(dy3)
    if cache["training"]:
        dgamma = sum(s[1] for s in sums)
        m = dt.type(cache["count"])
        coef, shift = (-dgamma / m)[:, None], (dbeta / m)[:, None]

        def grad(a: int, b: int) -> None:
            # dx = scale * (dy - dbeta / m - xhat * dgamma / m), in place in dx
            np.multiply(other[a:b], coef, out=dx[a:b])
            dx[a:b] += dy3[a:b]
            dx[a:b] -= shift
            dx[a:b] *= scale[:, None]
    else:
        # xhat = (x - mean) * inv_std, so sum(dy * xhat) = (sum(dy * x) - mean * sum(dy)) * inv_std
        dgamma = ((sum(s[1] for s in sums) - cache["mean"] * dbeta) * inv_std).astype(dt)

        def grad(a: int, b: int) -> None:
            np.multiply(dy3[a:b], scale[:, None], out=dx[a:b])

    _over_batch(grad, dy3)
    return (dx.reshape(shape), dgamma if gamma is not None else None, dbeta if cache["has_beta"] else None,
            None, None)


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


def layer_norm_last_axis(x: np.ndarray, eps: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """``(x - mean) / sqrt(var + eps) * gamma + beta`` over the last axis of a floating ``x`` (mean and biased
    variance of each row), with numpy's broadcasting and type promotion for ``eps``, ``gamma`` and ``beta``: a
    layer normalisation as exporters spell it out (the fused step of :mod:`bigdl_runtime.nn.fusion`).

    Nine array operations: the two row means are products by a ``1/n`` column (one BLAS call each, where a
    reduction with ``keepdims`` costs twice as much on a small row), and when the stored tensors have ``x``'s
    dtype every later operation writes into the centred values or the variance. A (1, 128) row: 5 us against
    8 for the eleven operations of the unfused steps.
    """
    column = _mean_column(x.shape[-1], x.dtype)
    d, var = _centred(x, column)
    if eps.dtype == gamma.dtype == beta.dtype == x.dtype:
        try:
            var = np.add(var, eps, out=out_for(var))
            d = np.divide(d, np.sqrt(var, out=out_for(var)), out=out_for(d))
            d = np.multiply(d, gamma, out=out_for(d))
            return np.add(d, beta, out=out_for(d))
        except ValueError:  # a stored tensor broadcasts the result to a larger shape: start again below
            d, var = _centred(x, column)
    return d / np.sqrt(var + eps) * gamma + beta


def _centred(x: np.ndarray, column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x`` minus its row means, and the means of the squares of that (``column``: see :func:`_mean_column`);
    the products by ``np.dot`` on the calling thread, or by :func:`.gemm.matmul`'s one-thread rule when large."""
    product = np.dot if x.size < OPENBLAS_SINGLE_MACS else matmul
    d = np.subtract(x, product(x, column))
    return d, product(np.square(d), column)


@functools.lru_cache(maxsize=32)
def _mean_column(n: int, dtype: np.dtype) -> np.ndarray:
    """The read-only ``(n, 1)`` column of ``1/n`` in ``dtype``: a row mean as one matrix product."""
    column = np.full((n, 1), 1.0 / n, dtype)
    column.flags.writeable = False
    return column
