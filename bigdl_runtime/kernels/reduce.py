"""Reductions over axes (sum, mean, max, min, prod), argmax/argmin and top-k.

``axes`` is ``None`` (reduce every axis, the ONNX default), an int, or a sequence of
possibly negative axes; an empty sequence reduces nothing (ONNX
``noop_with_empty_axes=1``). ``keepdims`` keeps the reduced axes with size 1.

Ties: max and min send the whole gradient to the *first* extreme element in
row-major order over the reduced axes, the element ``argmax`` / ``argmin`` with
``select_last_index=False`` reports (``torch.amax`` would split it evenly among
the ties; both are valid subgradients, and this one keeps gradients sparse).
Top-k orders equal values by lower index first (ONNX TopK), and the gradient of
each selected value goes back to the element it came from.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def normalize_axes(axes: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Sorted non-negative axes; ``None`` means all of them. Raises on out-of-range or repeated axes."""
    if axes is None:
        return tuple(range(ndim))
    items = [int(axes)] if isinstance(axes, (int, np.integer)) else [int(a) for a in axes]
    bound = max(ndim, 1)  # a scalar accepts axis 0 / -1: there is nothing to reduce
    for a in items:
        if not -bound <= a < bound:
            raise ValueError(f"{op}: axis {a} is out of range for a {ndim}-D input")
    if not ndim:
        return ()
    out = sorted({a % ndim for a in items})
    if len(out) != len(items):
        raise ValueError(f"{op}: axes {items} name an axis twice")
    return tuple(out)


def _accumulator(x: np.ndarray) -> np.dtype | None:
    """Integers sum in their own dtype (ONNX; numpy would widen int32 to int64)."""
    return x.dtype if x.dtype.kind in "iu" else None


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(dy: np.ndarray, cache: Any) -> np.ndarray:
    """``dy`` reshaped with the reduced axes kept (size 1), ready to broadcast over the input."""
    return dy.reshape(_kept_shape(cache["shape"], cache["axes"]))


def _cache(x: np.ndarray, axes: tuple[int, ...], **extra: Any) -> dict[str, Any]:
    return {"shape": x.shape, "axes": axes, "dtype": x.dtype, **extra}


def reduce_sum_forward(x: np.ndarray, axes: int | Sequence[int] | None = None,
                       keepdims: bool = True) -> tuple[np.ndarray, Any]:
    """Sum over ``axes``."""
    ax = normalize_axes(axes, x.ndim, "reduce_sum")
    return np.asarray(x.sum(axis=ax, keepdims=keepdims, dtype=_accumulator(x))), _cache(x, ax)


def reduce_sum_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (np.broadcast_to(_expand(dy, cache), cache["shape"]).astype(dy.dtype, copy=True),)


def reduce_mean_forward(x: np.ndarray, axes: int | Sequence[int] | None = None,
                        keepdims: bool = True) -> tuple[np.ndarray, Any]:
    """Mean over ``axes``."""
    ax = normalize_axes(axes, x.ndim, "reduce_mean")
    count = math.prod(x.shape[a] for a in ax)
    y = np.asarray(x.mean(axis=ax, keepdims=keepdims)).astype(x.dtype, copy=False)  # ints stay ints, as ONNX
    return y, _cache(x, ax, count=count)


def reduce_mean_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    share = _expand(dy, cache) / max(cache["count"], 1)
    return (np.broadcast_to(share, cache["shape"]).astype(dy.dtype, copy=True),)


def _rows(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``x`` with the reduced axes moved last and merged into one: ``(*kept, K)``."""
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = np.transpose(x, kept + list(axes))
    return moved.reshape([x.shape[i] for i in kept] + [-1])


def _unrows(rows: np.ndarray, shape: tuple[int, ...], axes: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`_rows`."""
    kept = [i for i in range(len(shape)) if i not in axes]
    order = kept + list(axes)
    moved = rows.reshape([shape[i] for i in order])
    return np.transpose(moved, np.argsort(order))


def _extreme(x: np.ndarray, axes: int | Sequence[int] | None, keepdims: bool, op: str,
             largest: bool) -> tuple[np.ndarray, Any]:
    ax = normalize_axes(axes, x.ndim, op)
    out_shape = _kept_shape(x.shape, ax) if keepdims else tuple(n for i, n in enumerate(x.shape) if i not in ax)
    if any(x.shape[a] == 0 for a in ax):  # ONNX: the extreme of nothing is -inf (max) / +inf (min)
        return np.full(out_shape, _empty_extreme(x.dtype, largest), dtype=x.dtype), _cache(x, ax, index=None)
    rows = _rows(x, ax)
    index = rows.argmax(axis=-1) if largest else rows.argmin(axis=-1)
    y = np.take_along_axis(rows, index[..., None], axis=-1)[..., 0]
    return y.reshape(out_shape), _cache(x, ax, index=index, width=rows.shape[-1])


def _empty_extreme(dtype: np.dtype, largest: bool) -> Any:
    """-inf / +inf, or the dtype's lowest / highest value where there is no infinity."""
    if np.issubdtype(dtype, np.floating):
        return -np.inf if largest else np.inf
    if dtype == np.bool_:
        return not largest
    info = np.iinfo(dtype)
    return info.min if largest else info.max


def _extreme_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    index = cache["index"]
    if index is None:  # reduced over an empty axis: the input has no elements
        return (np.zeros(cache["shape"], dtype=dy.dtype),)
    rows = np.zeros(index.shape + (cache["width"],), dtype=dy.dtype)
    np.put_along_axis(rows, index[..., None], dy.reshape(index.shape + (1,)), axis=-1)
    return (_unrows(rows, cache["shape"], cache["axes"]),)


def reduce_max_forward(x: np.ndarray, axes: int | Sequence[int] | None = None,
                       keepdims: bool = True) -> tuple[np.ndarray, Any]:
    """Maximum over ``axes`` (gradient to the first maximal element)."""
    return _extreme(x, axes, keepdims, "reduce_max", largest=True)


def reduce_max_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _extreme_backward(dy, cache)


def reduce_min_forward(x: np.ndarray, axes: int | Sequence[int] | None = None,
                       keepdims: bool = True) -> tuple[np.ndarray, Any]:
    """Minimum over ``axes`` (gradient to the first minimal element)."""
    return _extreme(x, axes, keepdims, "reduce_min", largest=False)


def reduce_min_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _extreme_backward(dy, cache)


def reduce_prod_forward(x: np.ndarray, axes: int | Sequence[int] | None = None,
                        keepdims: bool = True) -> tuple[np.ndarray, Any]:
    """Product over ``axes``; the gradient is the product of the *other* elements (exact with zeros)."""
    ax = normalize_axes(axes, x.ndim, "reduce_prod")
    return np.asarray(x.prod(axis=ax, keepdims=keepdims, dtype=_accumulator(x))), _cache(x, ax, input=x)


def reduce_prod_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    rows = _rows(cache["input"], cache["axes"])
    ones = np.ones(rows.shape[:-1] + (1,), dtype=rows.dtype)
    before = np.cumprod(np.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    others = _unrows(before * after, cache["shape"], cache["axes"])
    return ((others * _expand(dy, cache)).astype(dy.dtype, copy=False),)


def arg_extreme(x: np.ndarray, axis: int = 0, keepdims: bool = True, largest: bool = True,
                select_last_index: bool = False) -> np.ndarray:
    """Index (int64) of the maximum (``largest``) or minimum along ``axis``, as ONNX ArgMax/ArgMin.

    Examples:
        >>> arg_extreme(np.array([[1, 3, 3], [2, 0, 2]]), axis=1, keepdims=False)
        array([1, 0])
    """
    op = "argmax" if largest else "argmin"
    if x.ndim == 0:
        raise ValueError(f"{op}: needs an input of at least one dimension")
    (a,) = normalize_axes(axis, x.ndim, op)
    if x.shape[a] == 0:
        raise ValueError(f"{op}: cannot reduce an empty axis of shape {x.shape}")
    if select_last_index:
        flipped = np.flip(x, axis=a)
        index = (x.shape[a] - 1) - (flipped.argmax(axis=a) if largest else flipped.argmin(axis=a))
    else:
        index = x.argmax(axis=a) if largest else x.argmin(axis=a)
    index = np.asarray(index, dtype=np.int64)
    return np.expand_dims(index, a) if keepdims else index


def _best_k(key: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest keys along the last axis, ordered by key then index.

    A partition finds the k-th key ``t``; every key below ``t`` is taken, and the
    lowest-indexed keys equal to ``t`` fill the rest, so ties resolve as a stable
    full sort would, in O(n) plus a sort of the k winners. Keys that do not compare
    (NaN) fall back to the full sort.
    """
    n = key.shape[-1]
    if k == 0:
        return np.zeros(key.shape[:-1] + (0,), dtype=np.intp)
    if k == n:
        return np.argsort(key, axis=-1, kind="stable")
    threshold = np.partition(key, k - 1, axis=-1)[..., k - 1:k]
    below = key < threshold
    tied = key == threshold
    need = k - below.sum(axis=-1, keepdims=True)
    if np.array_equal(tied.sum(axis=-1, keepdims=True), need):  # no surplus ties: take them all
        chosen = below | tied
    else:
        chosen = below | (tied & (np.cumsum(tied, axis=-1) <= need))
    if not (chosen.sum(axis=-1) == k).all():
        return np.argsort(key, axis=-1, kind="stable")[..., :k]
    winners = np.nonzero(chosen)[-1].reshape(key.shape[:-1] + (k,))  # k per row, ascending
    order = np.argsort(np.take_along_axis(key, winners, axis=-1), axis=-1, kind="stable")
    return np.take_along_axis(winners, order, axis=-1)


def topk_forward(x: np.ndarray, k: int, axis: int = -1, largest: bool = True,
                 sorted: bool = True) -> tuple[tuple[np.ndarray, np.ndarray], Any]:
    """The ``k`` largest (or smallest) values along ``axis`` and their int64 indices (ONNX TopK).

    Values come in order (descending for largest), equal values lower index first;
    ``sorted=False`` is accepted and gives the same order (ONNX leaves it unspecified).
    Backward takes ``(d_values, d_indices)``; ``d_indices`` is ignored and either may be
    None (no gradient: zeros).
    """
    if x.ndim == 0:
        raise ValueError("topk: needs an input of at least one dimension")
    (a,) = normalize_axes(axis, x.ndim, "topk")
    k = int(k)
    if not 0 <= k <= x.shape[a]:
        raise ValueError(f"topk: k={k} is out of range for axis {a} of size {x.shape[a]} (input {x.shape})")
    # smaller key = better; ~x reverses integer order without overflow (-x would wrap unsigned values)
    flipped = np.invert(x) if x.dtype.kind in "biu" else -x
    key = np.moveaxis(flipped if largest else x, a, -1)
    index = np.moveaxis(_best_k(key, k), -1, a).astype(np.int64)
    values = np.take_along_axis(x, index, axis=a)
    return (values, index), {"shape": x.shape, "axis": a, "index": index, "dtype": x.dtype}


def topk_backward(dys: Sequence[np.ndarray | None], cache: Any) -> tuple[np.ndarray]:
    dvalues = dys[0]
    dx = np.zeros(cache["shape"], dtype=cache["dtype"] if dvalues is None else dvalues.dtype)
    if dvalues is not None:
        np.put_along_axis(dx, cache["index"], dvalues, axis=cache["axis"])
    return (dx,)
