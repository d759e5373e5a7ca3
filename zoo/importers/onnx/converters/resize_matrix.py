"""Resize as interpolation matrices: ``y = A_h @ x @ A_w.T`` over the last two axes.

Resizing is separable: along one axis every output sample is a fixed weighted sum of
input samples, so with static input sizes each axis is one constant matrix built at
import time (nearest: one-hot rows; linear: two taps; cubic: four taps), following
the ONNX Resize coordinate transformations, rounding modes and antialiasing. The graph then runs
two MatMul layers, which also give the gradient.
"""
from __future__ import annotations

import math

import numpy as np


def source_coordinates(mode: str, out_size: int, in_size: int, scale: float,
                       roi: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """The input coordinate each output index samples, per ONNX ``coordinate_transformation_mode``."""
    y = np.arange(out_size, dtype=np.float64)
    out_float = scale * in_size
    if mode == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if out_float > 1 else np.full(out_size, -0.5)
    if mode == "half_pixel_symmetric":
        offset = in_size / 2 * (1 - out_size / out_float)
        return offset + (y + 0.5) / scale - 0.5
    if mode == "align_corners":
        return np.zeros(out_size) if out_float == 1 else y * (in_size - 1) / (out_float - 1)
    if mode == "asymmetric":
        return y / scale
    if mode == "tf_crop_and_resize":
        start, end = roi
        if out_float == 1:
            return np.full(out_size, (end - start) * (in_size - 1) / 2 + start * (in_size - 1))
        return y * (end - start) * (in_size - 1) / (out_float - 1) + start * (in_size - 1)
    raise ValueError(f"unknown coordinate_transformation_mode {mode!r}")


def _nearest(x: np.ndarray, rounding: str) -> np.ndarray:
    floor, frac = np.floor(x), x - np.floor(x)
    if rounding == "floor":
        return floor
    if rounding == "ceil":
        return np.ceil(x)
    if rounding == "round_prefer_floor":
        return np.where(frac > 0.5, floor + 1, floor)
    if rounding == "round_prefer_ceil":
        return np.where(frac >= 0.5, floor + 1, floor)
    raise ValueError(f"unknown nearest_mode {rounding!r}")


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def interpolation_matrix(mode: str, coords: np.ndarray, in_size: int, nearest_mode: str = "round_prefer_floor",
                         cubic_a: float = -0.75, exclude_outside: bool = False,
                         antialias_scale: float | None = None) -> np.ndarray:
    """``(out, in)`` weights for ``mode`` = nearest, linear or cubic at the given source coordinates.

    Taps outside the input repeat the edge sample (ONNX's edge padding); with
    ``exclude_outside`` they get weight 0 and the row is renormalised. With
    ``antialias_scale`` < 1 (down-sampling) the linear or cubic kernel is stretched
    by ``1 / scale`` so that it averages over the input samples it skips.
    """
    out = np.zeros((len(coords), in_size))
    rows = np.arange(len(coords))
    if mode == "nearest":
        out[rows, np.clip(_nearest(coords, nearest_mode), 0, in_size - 1).astype(np.int64)] = 1.0
        return out
    if mode not in ("linear", "cubic"):
        raise ValueError(f"unknown resize mode {mode!r}")
    stretch = 1.0 if antialias_scale is None else min(antialias_scale, 1.0)
    support = 1 if mode == "linear" else 2
    start = int(math.floor(-support / stretch)) + 1
    base = np.floor(coords)
    ratio = coords - base
    taps = []
    for k in range(start, 2 - start):
        d = (k - ratio) * stretch
        taps.append((k, np.clip(1 - np.abs(d), 0, 1) if mode == "linear" else _cubic(d, cubic_a)))
    total = sum(w for _, w in taps)
    for k, w in taps:
        index = base.astype(np.int64) + k
        w = w / total
        if exclude_outside:
            w = np.where((index >= 0) & (index < in_size), w, 0.0)
        np.add.at(out, (rows, np.clip(index, 0, in_size - 1)), w)
    if exclude_outside:
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
    return out


def output_size(in_size: int, scale: float) -> int:
    """ONNX: the output size from a scale is ``floor(in * scale)``."""
    return int(math.floor(in_size * scale))
