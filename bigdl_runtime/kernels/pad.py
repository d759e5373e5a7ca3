"""Padding kernel: constant, reflect and edge modes, any rank, pads in ONNX order.

``pads`` lists the begin pads of every axis and then the end pads:
``[b_0, b_1, ..., e_0, e_1, ...]``. A negative pad crops. Reflect mirrors
without repeating the border (``[1, 2, 3] -> [3, 2, 1, 2, 3]``), edge repeats it.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

_MODES = ("constant", "reflect", "edge")


def pad_forward(x: np.ndarray, pads: Sequence[int], mode: str = "constant",
                value: float = 0.0) -> tuple[np.ndarray, Any]:
    """Pad ``x`` by ``pads`` (``2 * x.ndim`` ints, ONNX order) with ``mode``; ``value`` fills constant pads."""
    pads = [int(p) for p in pads]
    if len(pads) != 2 * x.ndim:
        raise ValueError(f"pad: a {x.ndim}-D input {x.shape} needs {2 * x.ndim} pads, got {len(pads)}")
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {_MODES}, got {mode!r}")
    begin, end = pads[:x.ndim], pads[x.ndim:]
    crop = tuple(slice(max(-b, 0), n - max(-e, 0)) for n, b, e in zip(x.shape, begin, end))
    cropped = x[crop]
    widths = [(max(b, 0), max(e, 0)) for b, e in zip(begin, end)]
    if mode == "reflect" and any(w and n < 2 for n, ws in zip(cropped.shape, widths) for w in ws):
        raise ValueError(f"pad: reflect needs at least 2 elements along each padded axis, got {cropped.shape}")
    kwargs = {"constant_values": value} if mode == "constant" else {}
    y = np.pad(cropped, widths, mode=mode, **kwargs)
    return y, (x.shape, crop, cropped.shape, widths, mode)


def _fold_axis(g: np.ndarray, axis: int, n: int, width: tuple[int, int], mode: str) -> np.ndarray:
    """Gradient of padding one axis of length ``n`` by ``width``: the interior plus, unless constant,
    the pads added back onto the elements they copied."""
    b, e = width
    gm = np.moveaxis(g, axis, 0)
    out = gm[b:b + n]
    if mode != "constant":
        source = np.pad(np.arange(n), width, mode=mode)
        border = np.r_[0:b, b + n:b + n + e]
        out = out.copy()
        np.add.at(out, source[border], gm[border])
    return np.moveaxis(out, 0, axis)


def pad_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    in_shape, crop, cropped_shape, widths, mode = cache
    g = dy
    for axis, (n, width) in enumerate(zip(cropped_shape, widths)):
        if width != (0, 0):
            g = _fold_axis(g, axis, n, width, mode)
    if cropped_shape == in_shape:
        return (g,)
    dx = np.zeros(in_shape, dtype=dy.dtype)
    dx[crop] = g
    return (dx,)
