"""Indicator outputs: hardmax, one-hot encoding, positions of non-zeros, unique values (ONNX Hardmax, OneHot,
NonZero, Unique).

Their outputs are piecewise constant in (or integer functions of) the inputs, so
they are plain functions without a gradient.
"""
from __future__ import annotations

import numpy as np


def hardmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """1 at the first maximum along ``axis``, 0 elsewhere (dtype kept)."""
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"hardmax: axis {axis} is out of range for a {x.ndim}-D input")
    winner = np.expand_dims(np.argmax(x, axis=axis), axis)
    y = np.zeros_like(x)
    np.put_along_axis(y, winner, 1, axis=axis)
    return y


def one_hot(indices: np.ndarray, depth: int, off: np.ndarray, on: np.ndarray, axis: int = -1) -> np.ndarray:
    """``on`` where the new ``axis`` (of size ``depth``) equals the index, ``off`` elsewhere (ONNX OneHot).

    Negative indices count from ``depth``; indices outside ``[-depth, depth)`` give an all-``off`` row.
    The output has the type of ``on``/``off`` and one more axis than ``indices``.
    """
    indices = np.asarray(indices)
    rank = indices.ndim + 1
    if not -rank <= axis < rank:
        raise ValueError(f"one_hot: axis {axis} is out of range for a {rank}-D output")
    idx = np.floor(indices).astype(np.int64) if indices.dtype.kind == "f" else indices.astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    classes = np.arange(depth).reshape((depth,) + (1,) * indices.ndim)
    hot = np.moveaxis(classes == idx[None], 0, axis % rank)
    return np.where(hot, on, off).astype(np.result_type(on, off))


def nonzero(x: np.ndarray) -> np.ndarray:
    """The int64 coordinates of the non-zero elements, shape ``(rank, count)`` (row-major order)."""
    return np.array(np.nonzero(x), dtype=np.int64).reshape(np.ndim(x), -1)


def unique(x: np.ndarray, axis: int | None = None,
           sorted: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ONNX Unique: the distinct values (or slices along ``axis``), the index of each one's first occurrence,
    the inverse indices (``x`` rebuilt as ``values[inverse]``) and the counts (the last three int64).

    ``sorted=False`` keeps the order of first occurrence instead of ascending order.
    """
    values, first, inverse, counts = np.unique(x, return_index=True, return_inverse=True, return_counts=True,
                                               axis=axis)
    inverse = inverse.reshape(-1)
    if not sorted:
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        values = np.take(x.reshape(-1) if axis is None else x, first[order], axis=0 if axis is None else axis)
        first, inverse, counts = first[order], rank[inverse], counts[order]
    return values, first.astype(np.int64), inverse.astype(np.int64), counts.astype(np.int64)
