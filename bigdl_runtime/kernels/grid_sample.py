"""Sampling an (N, C, *spatial) input at the normalised positions of a grid (ONNX GridSample,
``torch.nn.functional.grid_sample``), for any number of spatial axes; a forward/backward pair.

``grid[n, *out, :]`` holds coordinates in [-1, 1], the last spatial axis first (x, y[, z]).
They are mapped to pixel positions (``align_corners``: -1 and 1 are the centres of the
corner pixels, else their outer edges), positions outside the image are clamped
(``padding_mode="border"``; for ``"cubic"`` only the taps are, as onnxruntime does) or
reflected (``"reflection"``), and the value is interpolated
from the neighbouring pixels: ``"nearest"`` (rounding half to even, as torch),
``"linear"`` (2 taps per axis) or ``"cubic"`` (4 taps, Keys' kernel with a = -0.75).
Taps outside the image read 0 (``"zeros"``), the nearest edge pixel (``"border"``) or the
reflected pixel (``"reflection"``), as onnxruntime and the onnx reference.

Gradients: ``dx`` scatters every output's gradient back to the taps it read; ``dgrid``
differentiates the interpolation weights (zero for ``"nearest"`` and where a position
was clamped).
"""
from __future__ import annotations

from itertools import product
from typing import Any

import numpy as np

_A = -0.75  # Keys' cubic convolution parameter (onnxruntime, torch)


def _denormalise(n: np.ndarray, size: int, align_corners: bool) -> tuple[np.ndarray, float]:
    """Pixel positions of normalised coordinates, and d position / d coordinate."""
    if align_corners:
        return (n + 1) / 2 * (size - 1), (size - 1) / 2
    return ((n + 1) * size - 1) / 2, size / 2


def _reflect(x: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """``x`` reflected into ``[low, high]`` by the borders, and its slope (+1 or -1) in ``x``."""
    span = high - low
    below, above = x < low, x > high
    distance = np.where(below, low - x, x - high)
    turns = np.floor(distance / span) if span > 0 else np.zeros_like(distance)
    rest = distance - turns * span
    even = turns % 2 == 0
    from_below = np.where(even, low + rest, high - rest)
    from_above = np.where(even, high - rest, low + rest)
    value = np.where(below, from_below, np.where(above, from_above, x))
    slope = np.where(below | above, np.where(even, -1.0, 1.0), 1.0)
    return value, slope


def _bounds(size: int, align_corners: bool) -> tuple[float, float]:
    return (0.0, size - 1.0) if align_corners else (-0.5, size - 0.5)


def _cubic_weights(t: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Keys' weights of the taps at -1, 0, 1, 2 for a fraction ``t``, and their derivatives in ``t``."""
    def outer(s):  # |s| in [1, 2]
        return ((_A * s - 5 * _A) * s + 8 * _A) * s - 4 * _A

    def outer_slope(s):
        return (3 * _A * s - 10 * _A) * s + 8 * _A

    def inner(s):  # |s| in [0, 1]
        return ((_A + 2) * s - (_A + 3)) * s * s + 1

    def inner_slope(s):
        return (3 * (_A + 2) * s - 2 * (_A + 3)) * s

    weights = [outer(t + 1), inner(t), inner(1 - t), outer(2 - t)]
    slopes = [outer_slope(t + 1), inner_slope(t), -inner_slope(1 - t), -outer_slope(2 - t)]
    return weights, slopes


def _taps(x: np.ndarray, mode: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(integer position, weight, d weight / d x) of each tap along one axis."""
    if mode == "nearest":
        return [(x.astype(np.int64), np.ones_like(x), np.zeros_like(x))]
    base = np.floor(x)
    t = x - base
    base = base.astype(np.int64)
    if mode == "linear":
        return [(base, 1 - t, -np.ones_like(t)), (base + 1, t, np.ones_like(t))]
    weights, slopes = _cubic_weights(t)
    return [(base + k - 1, w, s) for k, (w, s) in enumerate(zip(weights, slopes))]


def _read_position(j: np.ndarray, size: int, padding_mode: str, align_corners: bool) -> tuple[np.ndarray, np.ndarray]:
    """The pixel a tap reads (clamped or reflected into the image) and whether it reads one (zeros: inside only)."""
    if padding_mode == "zeros":
        inside = (j >= 0) & (j < size)
        return np.clip(j, 0, size - 1), inside
    if padding_mode == "border":
        return np.clip(j, 0, size - 1), np.ones(j.shape, bool)
    low, high = _bounds(size, align_corners)
    reflected, _ = _reflect(j.astype(np.float64), low, high)
    return np.clip(reflected.astype(np.int64), 0, size - 1), np.ones(j.shape, bool)


def grid_sample_forward(x: np.ndarray, grid: np.ndarray, mode: str = "linear", padding_mode: str = "zeros",
                        align_corners: bool = False) -> tuple[np.ndarray, Any]:
    """Sample ``x`` (N, C, *spatial) at ``grid`` (N, *out, k); the output is (N, C, *out), ``x``'s dtype."""
    k = x.ndim - 2
    if grid.ndim != k + 2 or grid.shape[0] != x.shape[0] or grid.shape[-1] != k:
        raise ValueError(f"grid_sample: grid of shape {grid.shape} does not fit an input of shape {x.shape}")
    if mode not in ("nearest", "linear", "cubic") or padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: unknown mode {mode!r} or padding_mode {padding_mode!r}")
    sizes = x.shape[2:]
    axes = []  # per spatial axis: the taps and d position / d coordinate
    for i, size in enumerate(sizes):
        pos, scale = _denormalise(grid[..., k - 1 - i].astype(np.float64), size, align_corners)
        if mode == "nearest":
            pos = np.rint(pos)
        low, high = _bounds(size, align_corners)
        slope = np.ones_like(pos)
        if padding_mode == "border" and mode != "cubic":  # cubic taps are clamped one by one instead
            slope = ((pos >= 0) & (pos <= size - 1)).astype(np.float64)
            pos = np.where((pos < low) | (pos > high), np.clip(pos, 0, size - 1), pos)
        elif padding_mode == "reflection":
            pos, slope = _reflect(pos, low, high)
        taps = [(*_read_position(j, size, padding_mode, align_corners), w, dw) for j, w, dw in _taps(pos, mode)]
        axes.append((taps, slope * scale))
    batch = np.arange(x.shape[0]).reshape((-1,) + (1,) * (grid.ndim - 2))
    moved = np.moveaxis(x, 1, -1)  # (N, *spatial, C)
    y = np.zeros(grid.shape[:-1] + (x.shape[1],), np.float64)
    for combo in product(*(taps for taps, _ in axes)):
        weight = np.prod([w for _, inside, w, _ in combo], axis=0) * np.prod([inside for _, inside, _, _ in combo],
                                                                            axis=0)
        y += weight[..., None] * moved[(batch, *(j for j, _, _, _ in combo))]
    cache = (x.shape, x.dtype, grid.dtype, moved, batch, axes)
    return np.moveaxis(y, -1, 1).astype(x.dtype), cache


def grid_sample_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dgrid)``."""
    shape, x_dtype, grid_dtype, moved, batch, axes = cache
    k = len(axes)
    dy_moved = np.moveaxis(dy, 1, -1).astype(np.float64)  # (N, *out, C)
    dx = np.zeros(moved.shape, np.float64)
    dpos = [np.zeros(dy_moved.shape[:-1]) for _ in range(k)]
    for combo in product(*(taps for taps, _ in axes)):
        inside = np.prod([ins for _, ins, _, _ in combo], axis=0)
        weights = [w for _, _, w, _ in combo]
        index = (batch, *(j for j, _, _, _ in combo))
        np.add.at(dx, index, (np.prod(weights, axis=0) * inside)[..., None] * dy_moved)
        along = (moved[index] * dy_moved).sum(axis=-1) * inside
        for i in range(k):
            others = np.prod([w for m, w in enumerate(weights) if m != i], axis=0) if k > 1 else 1.0
            dpos[i] += along * others * combo[i][3]
    dgrid = np.stack([dpos[k - 1 - c] * axes[k - 1 - c][1] for c in range(k)], axis=-1)
    return np.moveaxis(dx, -1, 1).astype(x_dtype), dgrid.astype(grid_dtype)
