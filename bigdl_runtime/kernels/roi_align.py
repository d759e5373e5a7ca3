"""RoiAlign (ONNX RoiAlign, torchvision's ``roi_align``): bilinear samples averaged (or maxed) over each
output bin of each region of interest; a forward/backward pair, vectorised over regions, bins and samples.

A region ``(x1, y1, x2, y2)`` (times ``spatial_scale``, minus 0.5 with ``half_pixel``) is cut
into ``output_height x output_width`` bins, each sampled on a grid of ``sampling_ratio``
points per axis (or ``ceil(region / output)`` when it is 0). Samples more than one pixel
outside the image count as 0; others are clamped to the image and read bilinearly (as
onnxruntime). ``"avg"`` averages a bin's samples; ``"max"`` takes the largest weighted tap
over them (onnxruntime's definition).

The gradient flows to the feature map only: regions and their batch indices get None
(they come from proposals, not from a differentiable path).
"""
from __future__ import annotations

from typing import Any

import numpy as np


def _samples(rois: np.ndarray, out_h: int, out_w: int, ratio: int, scale: float,
             half_pixel: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sample coordinates y (R, H, 1, G, 1) and x (R, 1, W, 1, G), the in-grid mask (R, 1, 1, G, G), the counts."""
    offset = 0.5 if half_pixel else 0.0
    start_w, start_h, end_w, end_h = (rois[:, i] * scale - offset for i in range(4))
    width, height = end_w - start_w, end_h - start_h
    if not half_pixel:
        width, height = np.maximum(width, 1.0), np.maximum(height, 1.0)
    grid_h = np.full(len(rois), ratio) if ratio > 0 else np.ceil(height / out_h).astype(int)
    grid_w = np.full(len(rois), ratio) if ratio > 0 else np.ceil(width / out_w).astype(int)
    size = max(int(grid_h.max(initial=1)), int(grid_w.max(initial=1)), 1)
    step = np.arange(size) + 0.5
    bin_h, bin_w = height / out_h, width / out_w
    y = (start_h[:, None, None] + np.arange(out_h)[None, :, None] * bin_h[:, None, None]
         + step[None, None, :] * (bin_h / np.maximum(grid_h, 1))[:, None, None])
    x = (start_w[:, None, None] + np.arange(out_w)[None, :, None] * bin_w[:, None, None]
         + step[None, None, :] * (bin_w / np.maximum(grid_w, 1))[:, None, None])
    mask = (np.arange(size)[None, :, None] < grid_h[:, None, None]) & \
        (np.arange(size)[None, None, :] < grid_w[:, None, None])
    count = np.maximum(grid_h * grid_w, 1)
    return y[:, :, None, :, None], x[:, None, :, None, :], mask[:, None, None], count


def _taps(pos: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per sample along one axis: low and high pixel, their weights, and whether the sample is near the image."""
    near = (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0)
    low = np.floor(pos).astype(np.int64)
    at_end = low >= size - 1
    low = np.where(at_end, size - 1, low)
    high = np.where(at_end, size - 1, low + 1)
    frac = np.where(at_end, 0.0, pos - low)
    return low, high, 1 - frac, frac, near


def roi_align_forward(x: np.ndarray, rois: np.ndarray, batch_indices: np.ndarray, output_height: int = 1,
                      output_width: int = 1, sampling_ratio: int = 0, spatial_scale: float = 1.0,
                      mode: str = "avg", half_pixel: bool = True) -> tuple[np.ndarray, Any]:
    """Pool ``x`` (N, C, H, W) over ``rois`` (R, 4) of images ``batch_indices`` (R,) into (R, C, oh, ow)."""
    if mode not in ("avg", "max"):
        raise ValueError(f"roi_align: mode must be avg or max, got {mode!r}")
    height, width = x.shape[2:]
    y_pos, x_pos, mask, count = _samples(np.asarray(rois, np.float64), output_height, output_width,
                                         int(sampling_ratio), float(spatial_scale), half_pixel)
    y_low, y_high, y_w_low, y_w_high, y_near = _taps(y_pos, height)
    x_low, x_high, x_w_low, x_w_high, x_near = _taps(x_pos, width)
    valid = mask & y_near & x_near  # (R, oh, ow, G, G)
    batch = np.asarray(batch_indices, np.int64).reshape(-1, 1, 1, 1, 1)
    moved = np.moveaxis(x, 1, -1)  # (N, H, W, C)
    taps = []
    for rows, row_w in ((y_low, y_w_low), (y_high, y_w_high)):
        for cols, col_w in ((x_low, x_w_low), (x_high, x_w_high)):
            weight = np.where(valid, row_w * col_w, 0.0)
            taps.append((rows, cols, weight))
    values = [w[..., None] * moved[batch, r, c] for r, c, w in taps]  # each (R, oh, ow, G, G, C)
    if mode == "avg":
        y = sum(values).sum(axis=(3, 4)) / count[:, None, None, None]
    else:
        best = np.max(np.stack(values), axis=0)
        y = np.max(np.where(valid[..., None], best, -np.inf), axis=(3, 4))
        y = np.where(np.isfinite(y), y, 0.0)
    cache = (x.shape, x.dtype, batch, taps, count, valid, values if mode == "max" else None, mode)
    return np.moveaxis(y, -1, 1).astype(x.dtype), cache


def roi_align_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None, None]:
    """``(dx, None, None)``: each output's gradient goes to the taps it read, by their weights (avg) or to the
    winning tap (max)."""
    shape, dtype, batch, taps, count, valid, values, mode = cache
    dy_moved = np.moveaxis(dy, 1, -1)[:, :, :, None, None, :]  # (R, oh, ow, 1, 1, C)
    dx = np.zeros((shape[0], shape[2], shape[3], shape[1]), np.float64)
    if mode == "avg":
        for rows, cols, weight in taps:
            share = weight[..., None] * dy_moved / count[:, None, None, None, None, None]
            rows, cols = np.broadcast_arrays(rows, cols, valid)[:2]
            np.add.at(dx, (batch, rows, cols), share)
    else:
        grid = valid.shape
        stacked = np.where(valid[None, ..., None], np.stack(values), -np.inf)  # (4, R, oh, ow, G, G, C)
        ranked = np.moveaxis(stacked, (0, 4, 5), (4, 5, 6)).reshape(*grid[:3], shape[1], -1)
        best = np.argmax(ranked, axis=-1)  # (R, oh, ow, C): the winning (tap, sample)
        found = np.isfinite(np.max(ranked, axis=-1))
        tap, iy, ix = np.unravel_index(best, (4, grid[3], grid[4]))
        r, ph, pw = np.ogrid[:grid[0], :grid[1], :grid[2]]
        r, ph, pw = r[..., None], ph[..., None], pw[..., None]
        pick = (tap, r, ph, pw, iy, ix)
        rows = np.stack([np.broadcast_to(t[0], grid) for t in taps])[pick]
        cols = np.stack([np.broadcast_to(t[1], grid) for t in taps])[pick]
        weight = np.stack([t[2] for t in taps])[pick]
        channel = np.arange(shape[1])
        share = np.where(found, weight * np.moveaxis(dy, 1, -1), 0.0)
        np.add.at(dx, (batch[:, :, :, 0], rows, cols, channel), share)
    return np.moveaxis(dx, -1, 1).astype(dtype), None, None
