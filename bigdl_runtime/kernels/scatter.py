"""Element-wise gathers and scatters: GatherElements, ScatterElements, GatherND, ScatterND (ONNX semantics).

Every op turns its indices into one numpy index tuple ``pos`` (negative indices count
from the end of their axis, others out of range raise), then reads ``x[pos]`` or
writes ``y[pos]``. A scatter's ``reduction`` is ``"none"`` (assign; with repeated
positions the last update wins, the order numpy assigns in), ``"add"``, ``"mul"``,
``"max"`` or ``"min"``.

Gradients: a gather adds each output element's gradient to the element it read
(repeats add up). A scatter with ``"none"`` sends the gradient of each written
element to the update that won it, and of the others to ``data``; with ``"add"``
``data`` gets ``dy`` and each update ``dy`` at its position. ``mul``, ``max`` and
``min`` scatters have no backward here (it raises).
"""
from __future__ import annotations

from typing import Any

import numpy as np

_REDUCTIONS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _check_indices(indices: np.ndarray, op: str) -> np.ndarray:
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{op}: indices must be integers, got dtype {indices.dtype}")
    return indices


def _wrap(indices: np.ndarray, size: int | np.ndarray, op: str) -> np.ndarray:
    bad = (indices < -size) | (indices >= size)
    if bad.any():
        raise ValueError(f"{op}: index {indices[bad].flat[0]} is out of range for an axis of size "
                         f"{np.broadcast_to(size, indices.shape)[bad].flat[0]}")
    return np.where(indices < 0, indices + size, indices)


def _along_axis(shape: tuple[int, ...], indices: np.ndarray, axis: int, op: str) -> tuple[np.ndarray, ...]:
    """The index tuple of ``x[..., indices, ...]`` element by element along ``axis`` (indices of x's rank)."""
    if indices.ndim != len(shape):
        raise ValueError(f"{op}: indices have rank {indices.ndim}, the data {len(shape)}")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"{op}: axis {axis} is out of range for a {len(shape)}-D input")
    axis %= len(shape)
    if any(i > s for d, (i, s) in enumerate(zip(indices.shape, shape)) if d != axis):
        raise ValueError(f"{op}: indices of shape {indices.shape} exceed the data's shape {shape}")
    grid = list(np.ogrid[tuple(slice(0, n) for n in indices.shape)])
    grid[axis] = _wrap(indices, shape[axis], op)
    return tuple(grid)


def _nd(shape: tuple[int, ...], indices: np.ndarray, batch_dims: int, op: str) -> tuple[np.ndarray, ...]:
    """The index tuple of ONNX GatherND/ScatterND: ``indices[..., :k]`` address the axes after the batch axes."""
    k = indices.shape[-1]
    if batch_dims + k > len(shape):
        raise ValueError(f"{op}: indices address {k} axes after {batch_dims} batch axes of a {len(shape)}-D input")
    if indices.shape[:batch_dims] != shape[:batch_dims]:
        raise ValueError(f"{op}: batch axes of indices {indices.shape[:batch_dims]} and data {shape[:batch_dims]} "
                         "differ")
    batch = np.ogrid[tuple(slice(0, n) for n in indices.shape[:-1])][:batch_dims] if batch_dims else []
    sizes = np.asarray(shape[batch_dims:batch_dims + k])
    wrapped = _wrap(indices, sizes, op)
    return tuple(batch) + tuple(wrapped[..., t] for t in range(k))


def _gather_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None]:
    pos, shape = cache
    dx = np.zeros(shape, dy.dtype)
    np.add.at(dx, pos, dy)
    return dx, None


def _scatter(data: np.ndarray, pos: tuple[np.ndarray, ...], updates: np.ndarray, reduction: str,
             op: str) -> tuple[np.ndarray, Any]:
    expected = np.broadcast_shapes(*(p.shape for p in pos)) + data.shape[len(pos):]
    if updates.shape != expected:
        raise ValueError(f"{op}: updates have shape {updates.shape}, expected {expected}")
    y = data.copy()
    if reduction == "none":
        y[pos] = updates
    elif reduction in _REDUCTIONS:
        _REDUCTIONS[reduction].at(y, pos, updates.astype(y.dtype, copy=False))
    else:
        raise ValueError(f"{op}: reduction must be none, add, mul, max or min, got {reduction!r}")
    return y, (pos, reduction, data.shape, updates.shape)


def _scatter_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None, np.ndarray]:
    pos, reduction, data_shape, updates_shape = cache
    if reduction == "add":
        return dy.copy(), None, dy[pos].reshape(updates_shape)
    if reduction != "none":
        raise ValueError(f"the backward of a scatter with reduction {reduction!r} is not supported (none, add are)")
    owner = np.full(data_shape, -1, np.int64)
    ids = np.arange(int(np.prod(updates_shape))).reshape(updates_shape)
    owner[pos] = ids
    won = owner[pos] == ids
    ddata = dy.copy()
    ddata[pos] = 0
    return ddata, None, np.where(won, dy[pos], 0).astype(dy.dtype, copy=False)


def gather_elements_forward(x: np.ndarray, indices: np.ndarray, axis: int = 0) -> tuple[np.ndarray, Any]:
    """``y[i][j][k] = x[indices[i][j][k]][j][k]`` for ``axis=0`` (likewise for others), shaped as the indices."""
    pos = _along_axis(x.shape, _check_indices(indices, "gather_elements"), axis, "gather_elements")
    return x[pos], (pos, x.shape)


def gather_elements_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None]:
    return _gather_backward(dy, cache)


def scatter_elements_forward(data: np.ndarray, indices: np.ndarray, updates: np.ndarray, axis: int = 0,
                             reduction: str = "none") -> tuple[np.ndarray, Any]:
    """A copy of ``data`` where ``updates[i][j][k]`` goes to ``[indices[i][j][k]][j][k]`` (``axis=0``), reduced."""
    pos = _along_axis(data.shape, _check_indices(indices, "scatter_elements"), axis, "scatter_elements")
    return _scatter(data, pos, np.asarray(updates), reduction, "scatter_elements")


def scatter_elements_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None, np.ndarray]:
    """``(ddata, None, dupdates)``."""
    return _scatter_backward(dy, cache)


def gather_nd_forward(x: np.ndarray, indices: np.ndarray, batch_dims: int = 0) -> tuple[np.ndarray, Any]:
    """ONNX GatherND: slices of ``x`` addressed by the last axis of ``indices``, after ``batch_dims`` shared axes.

    Output shape: ``indices.shape[:-1] + x.shape[batch_dims + indices.shape[-1]:]``.
    """
    pos = _nd(x.shape, _check_indices(indices, "gather_nd"), int(batch_dims), "gather_nd")
    return x[pos], (pos, x.shape)


def gather_nd_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None]:
    return _gather_backward(dy, cache)


def scatter_nd_forward(data: np.ndarray, indices: np.ndarray, updates: np.ndarray,
                       reduction: str = "none") -> tuple[np.ndarray, Any]:
    """ONNX ScatterND: a copy of ``data`` whose slices addressed by ``indices[..., :]`` get ``updates``, reduced."""
    pos = _nd(data.shape, _check_indices(indices, "scatter_nd"), 0, "scatter_nd")
    return _scatter(data, pos, np.asarray(updates), reduction, "scatter_nd")


def scatter_nd_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None, np.ndarray]:
    """``(ddata, None, dupdates)``."""
    return _scatter_backward(dy, cache)
