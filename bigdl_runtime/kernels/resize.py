"""Spatial upsampling of NCHW tensors: nearest and bilinear, as PyTorch's ``F.interpolate``.

Give either ``scale_factor`` (one float or one per spatial axis; output size
``floor(in * scale)``, and source coordinates use ``1 / scale``) or ``size``
(source coordinates use ``in / out``).

- nearest: source index ``floor(dst / scale)``, clipped (ONNX Resize
  ``coordinate_transformation_mode="asymmetric"``, ``nearest_mode="floor"``),
  with PyTorch's shortcuts: out == in copies, out == 2 * in takes ``dst // 2``.
  Coordinates are computed in float32 as PyTorch does.
- bilinear: ``align_corners=False`` samples at ``(dst + 0.5) / scale - 0.5``
  (ONNX ``half_pixel``), ``align_corners=True`` at ``dst * (in - 1) / (out - 1)``.

Both are separable: forward gathers rows then columns, backward adds the
gradients back into the (sorted) source indices, one axis at a time.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

Scale = float | Sequence[float] | None
Size = int | Sequence[int] | None


def _pair(v: Any) -> tuple[Any, Any]:
    return (v, v) if np.isscalar(v) else tuple(v)


def _plan(x: np.ndarray, scale_factor: Scale, size: Size, op: str) -> list[tuple[int, int, float | None]]:
    """Per spatial axis: (input size, output size, scale factor or None when ``size`` was given)."""
    if x.ndim != 4:
        raise ValueError(f"{op}: expected an NCHW input, got shape {x.shape}")
    if (scale_factor is None) == (size is None):
        raise ValueError(f"{op}: give exactly one of scale_factor and size")
    if size is not None:
        out = [int(s) for s in _pair(size)]
        scales: list[float | None] = [None, None]
    else:
        scales = [float(s) for s in _pair(scale_factor)]
        out = [math.floor(n * s) for n, s in zip(x.shape[2:], scales)]
    if len(out) != 2 or min(out) < 1:
        raise ValueError(f"{op}: output size {out} from scale_factor={scale_factor}, size={size} "
                         f"is not two positive ints for input {x.shape}")
    return list(zip(x.shape[2:], out, scales))


def _fold(g: np.ndarray, index: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Sum the entries of ``g`` along ``axis`` into ``n`` bins; ``index`` (one per entry) is non-decreasing.

    Equal indices form runs; the sum adds the first entry of every run, then the
    second (masked where a run is shorter), ... - one gather per tap, a few taps
    for any upsampling factor, and several times faster than ``np.add.reduceat``.
    """
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    lengths = np.diff(np.r_[starts, len(index)])
    sums = np.take(g, starts, axis=axis)
    mask_shape = [1] * g.ndim
    mask_shape[axis] = len(starts)
    for tap in range(1, int(lengths.max())):
        live = lengths > tap
        part = np.take(g, np.minimum(starts + tap, len(index) - 1), axis=axis)
        sums += part if live.all() else part * live.astype(g.dtype).reshape(mask_shape)
    if len(starts) == n:  # every bin is hit, in order
        return sums
    out = np.zeros(g.shape[:axis] + (n,) + g.shape[axis + 1:], dtype=g.dtype)
    out[(slice(None),) * axis + (index[starts],)] = sums
    return out


def _nearest_index(n_in: int, n_out: int, scale: float | None) -> np.ndarray:
    dst = np.arange(n_out)
    if n_out == n_in:
        return dst
    if n_out == 2 * n_in:
        return dst // 2
    inv = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    return np.minimum(np.floor(dst.astype(np.float32) * inv).astype(np.int64), n_in - 1)


def upsample_nearest_forward(x: np.ndarray, scale_factor: Scale = None, size: Size = None) -> tuple[np.ndarray, Any]:
    """Nearest-neighbour resize of the H and W axes of an NCHW tensor."""
    (h, oh, sh), (w, ow, sw) = _plan(x, scale_factor, size, "upsample_nearest")
    rows, cols = _nearest_index(h, oh, sh), _nearest_index(w, ow, sw)
    return np.take(np.take(x, rows, axis=2), cols, axis=3), (h, w, rows, cols)


def upsample_nearest_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    h, w, rows, cols = cache
    return (_fold(_fold(dy, cols, w, axis=3), rows, h, axis=2),)


def _linear_coeffs(n_in: int, n_out: int, scale: float | None, align_corners: bool,
                   dtype: np.dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and the weight of i1 for every output position (PyTorch's arithmetic)."""
    dst = np.arange(n_out, dtype=dtype)
    if align_corners:
        ratio = dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
        src = dst * ratio
    else:
        ratio = dtype.type(1.0 / scale) if scale else dtype.type(n_in) / dtype.type(n_out)
        src = np.maximum(ratio * (dst + dtype.type(0.5)) - dtype.type(0.5), 0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    weight1 = np.clip(src - i0, 0, 1).astype(dtype)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, weight1


def upsample_bilinear_forward(x: np.ndarray, scale_factor: Scale = None, size: Size = None,
                              align_corners: bool = False) -> tuple[np.ndarray, Any]:
    """Bilinear resize of the H and W axes of an NCHW tensor (``F.interpolate(mode="bilinear")``)."""
    (h, oh, sh), (w, ow, sw) = _plan(x, scale_factor, size, "upsample_bilinear")
    r0, r1, rw = _linear_coeffs(h, oh, sh, align_corners, x.dtype)
    c0, c1, cw = _linear_coeffs(w, ow, sw, align_corners, x.dtype)
    rw_col = rw[:, None]
    t = np.take(x, r0, axis=2) * (1 - rw_col) + np.take(x, r1, axis=2) * rw_col
    y = np.take(t, c0, axis=3) * (1 - cw) + np.take(t, c1, axis=3) * cw
    return y, (h, w, r0, r1, rw_col, c0, c1, cw)


def upsample_bilinear_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    h, w, r0, r1, rw_col, c0, c1, cw = cache
    gt = _fold(dy * (1 - cw), c0, w, axis=3) + _fold(dy * cw, c1, w, axis=3)
    return (_fold(gt * (1 - rw_col), r0, h, axis=2) + _fold(gt * rw_col, r1, h, axis=2),)
