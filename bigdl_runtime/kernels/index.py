"""Indexing and rearranging kernels: gather, slice, expand, tile, squeeze, unsqueeze,
depth-to-space and space-to-depth, with ONNX semantics.

Indices may be negative (counted from the end). Gradients are scattered (gather,
slice), summed (expand, tile) or un-permuted (the others) back to the input's
shape; integer index inputs get ``None``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .elementwise import unbroadcast


def _axis(axis: int, ndim: int, op: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for a {ndim}-D input")
    return axis % ndim


def _int_list(values: Sequence[int] | np.ndarray, what: str, op: str) -> list[int]:
    arr = np.asarray(values)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{op}: {what} must be integers, got {arr.dtype}")
    return [int(v) for v in arr.reshape(-1)]


# ------------------------------------------------------------------ gather
def gather_forward(x: np.ndarray, indices: np.ndarray, axis: int = 0) -> tuple[np.ndarray, Any]:
    """``np.take(x, indices, axis)`` (ONNX Gather): output ``x.shape[:axis] + indices.shape + x.shape[axis+1:]``.

    Negative indices count from the end of ``axis``; others out of range raise.
    """
    axis = _axis(axis, x.ndim, "gather")
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"gather: indices must be integers, got dtype {indices.dtype}")
    n = x.shape[axis]
    bad = (indices < -n) | (indices >= n)
    if bad.any():
        raise ValueError(f"gather: index {indices[bad].flat[0]} is out of range for axis {axis} of size {n}")
    indices = np.where(indices < 0, indices + n, indices)
    return np.take(x, indices, axis=axis), (indices, axis, x.shape)


def gather_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None]:
    """``(dx, None)``: every output element's gradient is added to the element it was taken from."""
    indices, axis, shape = cache
    dx = np.zeros(shape, dtype=dy.dtype)
    target = np.moveaxis(dx, axis, 0)
    k = indices.ndim
    source = np.moveaxis(dy, list(range(axis, axis + k)), list(range(k)))
    np.add.at(target, indices.reshape(-1), source.reshape((-1,) + target.shape[1:]))
    return dx, None


# ------------------------------------------------------------------- slice
def _slice_bounds(start: int, end: int, step: int, size: int) -> slice:
    """ONNX Slice bounds for one axis: negatives count from the end, then clamp per step sign."""
    if size == 0:
        return slice(0, 0, 1)
    start = start + size if start < 0 else start
    end = end + size if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), size), min(max(end, 0), size), step)
    start = min(max(start, 0), size - 1)
    end = min(max(end, -1), size - 1)
    return slice(start, None if end < 0 else end, step)  # end -1: run through index 0


def slice_forward(x: np.ndarray, starts: Sequence[int], ends: Sequence[int], axes: Sequence[int] | None = None,
                  steps: Sequence[int] | None = None) -> tuple[np.ndarray, Any]:
    """ONNX Slice: ``x[starts[i]:ends[i]:steps[i]]`` on ``axes[i]`` (default: the first ``len(starts)`` axes).

    Out-of-range bounds are clamped (so ``INT64_MAX`` / ``INT64_MIN`` mean "to the
    end"); negative steps walk backwards. The output is a view of ``x``.
    """
    starts, ends = _int_list(starts, "starts", "slice"), _int_list(ends, "ends", "slice")
    axes = list(range(len(starts))) if axes is None else _int_list(axes, "axes", "slice")
    steps = [1] * len(starts) if steps is None else _int_list(steps, "steps", "slice")
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ValueError(f"slice: starts {starts}, ends {ends}, axes {axes} and steps {steps} differ in length")
    index = [slice(None)] * x.ndim
    seen: set[int] = set()
    for start, end, axis, step in zip(starts, ends, axes, steps):
        a = _axis(axis, x.ndim, "slice")
        if a in seen:
            raise ValueError(f"slice: axis {a} is given twice in axes {axes}")
        if step == 0:
            raise ValueError(f"slice: step 0 on axis {axis}")
        seen.add(a)
        index[a] = _slice_bounds(start, end, step, x.shape[a])
    return x[tuple(index)], (tuple(index), x.shape)


def slice_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    index, shape = cache
    dx = np.zeros(shape, dtype=dy.dtype)
    dx[index] = dy
    return (dx,)


# ----------------------------------------------------------- expand, tile
def expand_forward(x: np.ndarray, shape: Sequence[int]) -> tuple[np.ndarray, Any]:
    """Broadcast ``x`` against ``shape`` (ONNX Expand: the result has the broadcast of both shapes)."""
    target = tuple(_int_list(shape, "shape", "expand"))
    try:
        out = np.broadcast_shapes(x.shape, target)
    except ValueError:
        raise ValueError(f"expand: input {x.shape} does not broadcast to {list(target)}") from None
    return np.broadcast_to(x, out).copy(), x.shape


def expand_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (unbroadcast(dy, cache),)


def tile_forward(x: np.ndarray, repeats: Sequence[int]) -> tuple[np.ndarray, Any]:
    """Repeat ``x`` ``repeats[i]`` times along axis ``i`` (ONNX Tile: one count per axis)."""
    reps = _int_list(repeats, "repeats", "tile")
    if len(reps) != x.ndim or min(reps, default=0) < 0:
        raise ValueError(f"tile: repeats {reps} must be {x.ndim} non-negative counts for input {x.shape}")
    return np.tile(x, reps), (x.shape, reps)


def tile_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    shape, reps = cache
    interleaved = [n for pair in zip(reps, shape) for n in pair]
    summed = dy.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(shape), 2)))
    return (summed.reshape(shape),)


# ------------------------------------------------------ squeeze, unsqueeze
def squeeze_forward(x: np.ndarray, axes: Sequence[int] | int | None = None) -> tuple[np.ndarray, Any]:
    """Drop size-1 axes: the given ones (each must have size 1, as ONNX) or, with None, all of them."""
    if axes is None:
        drop = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        drop = sorted({_axis(a, x.ndim, "squeeze") for a in _int_list(axes, "axes", "squeeze")})
        wide = [a for a in drop if x.shape[a] != 1]
        if wide:
            raise ValueError(f"squeeze: axis {wide[0]} of input {x.shape} has size {x.shape[wide[0]]}, not 1")
    return x.reshape([n for i, n in enumerate(x.shape) if i not in drop]), x.shape


def squeeze_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy.reshape(cache),)


def unsqueeze_forward(x: np.ndarray, axes: Sequence[int] | int) -> tuple[np.ndarray, Any]:
    """Insert size-1 axes at ``axes``, positions in the *output* (ONNX Unsqueeze; may be negative)."""
    items = _int_list(axes, "axes", "unsqueeze")
    ndim = x.ndim + len(items)
    where = {_axis(a, ndim, "unsqueeze") for a in items}
    if len(where) != len(items):
        raise ValueError(f"unsqueeze: axes {items} name an output axis twice")
    dims = iter(x.shape)
    return x.reshape([1 if i in where else next(dims) for i in range(ndim)]), x.shape


def unsqueeze_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy.reshape(cache),)


# -------------------------------------------- depth-to-space, space-to-depth
def _rearrange(x: np.ndarray, mid: tuple[int, ...], perm: tuple[int, ...],
               out: tuple[int, ...]) -> tuple[np.ndarray, Any]:
    y = x.reshape(mid).transpose(perm).reshape(out)
    return y, (x.shape, tuple(mid[p] for p in perm), np.argsort(perm))


def _unrearrange(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    shape, permuted, inverse = cache
    return (dy.reshape(permuted).transpose(inverse).reshape(shape),)


def _blocks(x: np.ndarray, block: int, op: str) -> tuple[int, int, int, int]:
    if x.ndim != 4:
        raise ValueError(f"{op}: expected input (N, C, H, W), got shape {x.shape}")
    if block < 1:
        raise ValueError(f"{op}: blocksize must be positive, got {block}")
    return x.shape  # type: ignore[return-value]


def depth_to_space_forward(x: np.ndarray, blocksize: int, mode: str = "DCR") -> tuple[np.ndarray, Any]:
    """Move channel blocks into ``blocksize x blocksize`` spatial blocks (ONNX DepthToSpace).

    ``mode="DCR"`` (depth-column-row, the ONNX default) takes the block position
    from the outer channel index; ``"CRD"`` from the inner one (``torch.nn.PixelShuffle``).
    ``(N, C, H, W) -> (N, C / b^2, H * b, W * b)``.
    """
    n, c, h, w = _blocks(x, blocksize, "depth_to_space")
    b = int(blocksize)
    if c % (b * b):
        raise ValueError(f"depth_to_space: {c} channels are not divisible by blocksize^2 = {b * b}")
    out = (n, c // (b * b), h * b, w * b)
    if mode == "DCR":
        return _rearrange(x, (n, b, b, c // (b * b), h, w), (0, 3, 4, 1, 5, 2), out)
    if mode == "CRD":
        return _rearrange(x, (n, c // (b * b), b, b, h, w), (0, 1, 4, 2, 5, 3), out)
    raise ValueError(f"depth_to_space: mode must be 'DCR' or 'CRD', got {mode!r}")


def depth_to_space_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _unrearrange(dy, cache)


def space_to_depth_forward(x: np.ndarray, blocksize: int, mode: str = "DCR") -> tuple[np.ndarray, Any]:
    """Move ``blocksize x blocksize`` spatial blocks into channels (ONNX SpaceToDepth).

    ``(N, C, H, W) -> (N, C * b^2, H / b, W / b)``; the inverse of
    :func:`depth_to_space_forward` in the same ``mode`` (``"DCR"``: block position
    in the outer channel index, the ONNX default; ``"CRD"``: in the inner one, opset 28,
    ``torch.nn.PixelUnshuffle``).
    """
    n, c, h, w = _blocks(x, blocksize, "space_to_depth")
    b = int(blocksize)
    if h % b or w % b:
        raise ValueError(f"space_to_depth: spatial size {h}x{w} is not divisible by blocksize {b}")
    mid, out = (n, c, h // b, b, w // b, b), (n, c * b * b, h // b, w // b)
    if mode == "DCR":
        return _rearrange(x, mid, (0, 3, 5, 1, 2, 4), out)
    if mode == "CRD":
        return _rearrange(x, mid, (0, 1, 3, 5, 2, 4), out)
    raise ValueError(f"space_to_depth: mode must be 'DCR' or 'CRD', got {mode!r}")


def space_to_depth_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _unrearrange(dy, cache)
