"""Shape kernels: concat, split, reshape, flatten, transpose.

They move data without arithmetic. Outputs and gradients may be views of
their inputs (as ``np.reshape`` and ``np.transpose`` return); treat them as
read-only. Axes may be negative, as in numpy and ONNX.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def _axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a {ndim}-D input")
    return axis % ndim


def concat_forward(*xs: np.ndarray, axis: int) -> tuple[np.ndarray, Any]:
    """Join ``xs`` along ``axis``; all other dimensions must agree."""
    if not xs:
        raise ValueError("concat: needs at least one input")
    axis = _axis(axis, xs[0].ndim, "concat")
    ref = xs[0].shape[:axis] + xs[0].shape[axis + 1:]
    for x in xs:
        if x.ndim != xs[0].ndim or x.shape[:axis] + x.shape[axis + 1:] != ref:
            raise ValueError(f"concat: shapes {[x.shape for x in xs]} differ outside axis {axis}")
    sizes = [x.shape[axis] for x in xs]
    return np.concatenate(xs, axis=axis), (axis, np.cumsum(sizes)[:-1])


def concat_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, ...]:
    axis, offsets = cache
    return tuple(np.split(dy, offsets, axis=axis))


def split_forward(x: np.ndarray, sizes_or_n: int | Sequence[int], axis: int = 0) -> tuple[tuple[np.ndarray, ...], Any]:
    """Cut ``x`` along ``axis`` into ``n`` equal parts (an int) or parts of the given sizes (a list).

    Returns a tuple of outputs; backward takes a tuple of their gradients
    (``None`` for an unused output counts as zeros).
    """
    axis = _axis(axis, x.ndim, "split")
    length = x.shape[axis]
    if isinstance(sizes_or_n, (int, np.integer)):
        if sizes_or_n < 1 or length % sizes_or_n:
            raise ValueError(f"split: cannot cut axis {axis} of {x.shape} into {sizes_or_n} equal parts")
        sizes = [length // int(sizes_or_n)] * int(sizes_or_n)
    else:
        sizes = [int(s) for s in sizes_or_n]
        if sum(sizes) != length or min(sizes, default=-1) < 0:
            raise ValueError(f"split: sizes {sizes} do not add up to axis {axis} of {x.shape}")
    parts = tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))
    return parts, (axis, [p.shape for p in parts], x.dtype)


def split_views(x: np.ndarray, sizes: Sequence[int], axis: int) -> tuple[np.ndarray, ...] | None:
    """:func:`split_forward`'s parts of sizes ``sizes`` as basic-indexing views (the inference path: no cache), or
    None when the sizes do not cut the axis (the forward then names the problem)."""
    if not -x.ndim <= axis < x.ndim or sum(sizes) != x.shape[axis] or min(sizes, default=-1) < 0:
        return None
    index: list[Any] = [slice(None)] * (axis % x.ndim)
    parts, start = [], 0
    for size in sizes:
        parts.append(x[(*index, slice(start, start + size))])
        start += size
    return tuple(parts)


def split_backward(dys: Sequence[np.ndarray | None], cache: Any) -> tuple[np.ndarray]:
    axis, shapes, dtype = cache
    grads = [np.zeros(s, dtype) if g is None else g for g, s in zip(dys, shapes)]
    return (np.concatenate(grads, axis=axis),)


def reshape_forward(x: np.ndarray, shape: Sequence[int]) -> tuple[np.ndarray, Any]:
    """Reshape as ONNX Reshape: ``0`` copies the input's dimension at that index, one ``-1`` is inferred."""
    target = [x.shape[i] if s == 0 and i < x.ndim else int(s) for i, s in enumerate(shape)]
    known = math.prod(s for s in target if s != -1)
    unknown = target.count(-1)
    if unknown > 1 or any(s < -1 for s in target) or (unknown and (known == 0 or x.size % known)) \
            or (not unknown and known != x.size):
        raise ValueError(f"reshape: cannot reshape {x.shape} (size {x.size}) into {list(shape)}")
    return x.reshape(target), x.shape


def reshape_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy.reshape(cache),)


def flatten_forward(x: np.ndarray, start_dim: int = 1) -> tuple[np.ndarray, Any]:
    """Flatten to 2-D as ONNX Flatten(axis=start_dim): ``(prod(shape[:start_dim]), prod(shape[start_dim:]))``.

    Unlike ``torch.flatten``, dimensions before ``start_dim`` are merged too;
    both agree for the usual ``start_dim=1``.
    """
    if not -x.ndim <= start_dim <= x.ndim:
        raise ValueError(f"flatten: start_dim {start_dim} is out of range for input {x.shape}")
    start_dim = start_dim + x.ndim if start_dim < 0 else start_dim
    rows = math.prod(x.shape[:start_dim])
    return x.reshape(rows, math.prod(x.shape[start_dim:])), x.shape


def flatten_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy.reshape(cache),)


def transpose_forward(x: np.ndarray, perm: Sequence[int] | None = None) -> tuple[np.ndarray, Any]:
    """Permute the axes: output axis ``i`` is input axis ``perm[i]`` (default: reverse them, as ONNX)."""
    perm = list(range(x.ndim))[::-1] if perm is None else [int(p) for p in perm]
    if sorted(perm) != list(range(x.ndim)):
        raise ValueError(f"transpose: perm {perm} is not a permutation of the {x.ndim} axes of {x.shape}")
    return x.transpose(perm), np.argsort(perm)


def transpose_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy.transpose(cache),)
