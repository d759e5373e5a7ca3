"""The discrete Fourier transform along one axis of a real-stacked signal (ONNX DFT), a forward/backward pair.

Signals carry a last axis of 1 (real) or 2 (real, imaginary) components. The transform
is linear, so it is computed as one real matrix ``R[out, out_part, in, in_part]`` applied
along ``axis`` (the backward applies its transpose). ``length`` pads with zeros or
truncates the signal first (as ``np.fft.fft(n=length)``); ``onesided`` keeps the
``length // 2 + 1`` non-redundant frequencies; ``inverse`` computes the inverse transform
(divided by ``length``), and with ``onesided`` the real inverse of a one-sided spectrum
(``np.fft.irfft``; the output then has one component).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def dft_matrix(n_in: int, parts_in: int, length: int, inverse: bool, onesided: bool) -> np.ndarray:
    """The real matrix ``R[o, d, j, c]`` of the transform (float64)."""
    if inverse and onesided:  # real output: y_t = sum_k w_k (Re X_k cos - Im X_k sin)(2 pi k t / L) / L
        k = np.arange(n_in)[None, :]
        t = np.arange(length)[:, None]
        weight = np.where((k == 0) | (2 * k == length), 1.0, 2.0) * (k <= length // 2)
        angle = 2 * np.pi * k * t / length
        parts = [weight * np.cos(angle) / length, -weight * np.sin(angle) / length]
        return np.stack(parts[:parts_in], axis=-1)[:, None]  # (L, 1, n_in, parts_in)
    n_out = length // 2 + 1 if onesided else length
    k = np.arange(n_out)[:, None]
    j = np.arange(n_in)[None, :]
    sign = 1.0 if inverse else -1.0
    angle = sign * 2 * np.pi * k * j / length
    scale = (1.0 / length if inverse else 1.0) * (j < length)  # samples past the length are dropped
    re, im = np.cos(angle) * scale, np.sin(angle) * scale
    # (re + i im)(a + i b) = (re a - im b) + i (im a + re b)
    matrix = np.stack([np.stack([re, -im], axis=-1), np.stack([im, re], axis=-1)], axis=1)  # (n_out, 2, n_in, 2)
    return matrix[..., :parts_in]


def dft_forward(x: np.ndarray, axis: int = -2, length: int | None = None, inverse: bool = False,
                onesided: bool = False) -> tuple[np.ndarray, Any]:
    """The DFT of ``x`` (``(..., n, ..., parts)``, ``parts`` 1 or 2) along ``axis`` (not the last axis)."""
    if x.shape[-1] not in (1, 2):
        raise ValueError(f"dft: the last axis must hold 1 (real) or 2 (real, imaginary) parts, got {x.shape[-1]}")
    axis %= x.ndim
    if axis == x.ndim - 1:
        raise ValueError("dft: the transformed axis cannot be the last (parts) axis")
    n_in = x.shape[axis]
    if length is None:
        length = 2 * (n_in - 1) if inverse and onesided else n_in
    matrix = dft_matrix(n_in, x.shape[-1], int(length), inverse, onesided)
    moved = np.moveaxis(x, axis, -2)
    y = np.einsum("...jc,odjc->...od", moved, matrix)
    return np.moveaxis(y, -2, axis).astype(x.dtype), (matrix, axis, x.dtype)


def dft_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    matrix, axis, dtype = cache
    dx = np.einsum("...od,odjc->...jc", np.moveaxis(dy, axis, -2), matrix)
    return (np.moveaxis(dx, -2, axis).astype(dtype),)
