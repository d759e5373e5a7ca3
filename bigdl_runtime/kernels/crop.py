"""Crop kernel (Caffe's Crop layer): cut the first input to the shape of a reference input.

Axes before ``axis`` are kept whole; every axis ``d >= axis`` is cut to
``reference.shape[d]`` starting at its offset, so
``y = x[..., o_axis : o_axis + r_axis, o_axis+1 : ..., ...]``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def crop_offsets(x_shape: Sequence[int], ref_shape: Sequence[int], axis: int,
                 offset: Sequence[int] = ()) -> list[int]:
    """The start of the crop along each axis from ``axis`` on, with Caffe's offset rule.

    No offset: 0 everywhere; one offset: the same for every cropped axis; otherwise one
    per cropped axis. Raises ValueError when the crop does not fit.
    """
    ndim = len(x_shape)
    axis = axis + ndim if axis < 0 else axis
    if len(ref_shape) != ndim or not 0 <= axis < ndim:
        raise ValueError(f"crop: input {tuple(x_shape)} and reference {tuple(ref_shape)} must have the same rank "
                         f"and axis {axis} must be one of their axes")
    count = ndim - axis
    offset = [int(o) for o in offset]
    if len(offset) not in (0, 1, count):
        raise ValueError(f"crop: give 0, 1 or {count} offsets for the axes from {axis} on, got {offset}")
    starts = offset * count if len(offset) == 1 else (offset or [0] * count)
    for d, start in zip(range(axis, ndim), starts):
        if start < 0 or start + ref_shape[d] > x_shape[d]:
            raise ValueError(f"crop: axis {d} of input {tuple(x_shape)} cannot be cut to {ref_shape[d]} "
                             f"from offset {start} (reference {tuple(ref_shape)})")
    return [0] * axis + starts


def crop_forward(x: np.ndarray, reference: np.ndarray, axis: int = 2,
                 offset: Sequence[int] = ()) -> tuple[np.ndarray, Any]:
    """``x`` cut to ``reference``'s shape on every axis from ``axis`` on.

    Args:
        x: the array to crop.
        reference: only its shape is used (same rank as ``x``).
        axis: first cropped axis (negative counts from the end).
        offset: Caffe's offsets (see :func:`crop_offsets`).

    Returns:
        ``y`` and the cache.

    Examples:
        >>> crop_forward(np.zeros((1, 3, 10, 10)), np.zeros((1, 1, 6, 7)), axis=2, offset=[2])[0].shape
        (1, 3, 6, 7)
    """
    starts = crop_offsets(x.shape, reference.shape, axis, offset)
    first = axis + x.ndim if axis < 0 else axis
    window = tuple(slice(None) if d < first else slice(s, s + reference.shape[d]) for d, s in enumerate(starts))
    return x[window].copy(), (x.shape, reference.shape, reference.dtype, window)


def crop_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(dx, dreference)``: ``dy`` placed back into the cropped window; the reference gets zeros."""
    x_shape, ref_shape, ref_dtype, window = cache
    dx = np.zeros(x_shape, dtype=dy.dtype)
    dx[window] = dy
    return dx, np.zeros(ref_shape, dtype=ref_dtype)
