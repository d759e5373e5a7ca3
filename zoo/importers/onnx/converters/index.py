"""Indexing: Gather, Slice, Expand, Tile, DepthToSpace, SpaceToDepth (Gather of a constant table is an Embedding)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX


@ONNX.register("Gather", since=1)
def gather(node: OnnxNode):
    data, indices = node.value(0), node.value(1)
    axis = int(node.attr("axis", 0))
    if not isinstance(data, Sym) and not isinstance(indices, Sym):
        data, idx = np.asarray(data), np.asarray(indices).astype(np.int64)
        if np.any(idx < -data.shape[axis]) or np.any(idx >= data.shape[axis]):
            raise node.error(f"indices out of range for axis {axis} of size {data.shape[axis]}")
        return np.take(data, idx, axis=axis)
    if not isinstance(data, Sym) and axis == 0 and np.ndim(data) == 2 and np.issubdtype(np.asarray(data).dtype,
                                                                                        np.floating):
        table = np.asarray(data)
        layer = nn.Embedding(table.shape[0], table.shape[1])
        layer.weight.data[...] = table
        return node.apply(layer, [indices])
    return node.apply(nn.Gather(axis), [data, indices])


def _ints(values) -> list[int] | None:
    return None if values is None else [int(v) for v in np.asarray(values).reshape(-1)]


def slice_plan(node: OnnxNode, rank: int | None, starts, ends, axes, steps) -> tuple[list, list, list, list]:
    """starts, ends, axes, steps as int lists (axes default 0..k-1, steps default 1; negative axes
    stay negative when the rank is unknown)."""
    starts = [int(s) for s in np.asarray(starts).reshape(-1)]
    ends = [int(e) for e in np.asarray(ends).reshape(-1)]
    axes = list(range(len(starts))) if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
    axes = [a + rank if a < 0 and rank is not None else a for a in axes]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.asarray(steps).reshape(-1)]
    if 0 in steps:
        raise node.error("slice step 0")
    return starts, ends, axes, steps


def _clamp(v: int, dim: int, step: int) -> int:
    return int(np.clip(v, -dim - 1 if step < 0 else -dim, dim - 1 if step < 0 else dim))


@ONNX.register("Slice", since=1)
def slice_(node: OnnxNode):
    x = node.value(0)
    rank = node.rank(0)
    if node.ctx.opset < 10:
        plan = slice_plan(node, rank, node.attr("starts"), node.attr("ends"), node.attr("axes"), None)
    else:
        bounds = [node.value(i) for i in range(1, 5)]
        if any(isinstance(v, Sym) for v in bounds):  # computed at run time (e.g. from Shape)
            return _runtime_slice(node, x, *bounds)
        plan = slice_plan(node, rank, *bounds)
    if not isinstance(x, Sym):
        x = np.asarray(x)
        index = [slice(None)] * rank
        for s, e, a, st in zip(*plan):
            dim = x.shape[a]
            index[a] = slice(_clamp(s, dim, st), _clamp(e, dim, st) if e > -2**62 else None, st)
        return x[tuple(index)]
    starts, ends, axes, steps = plan
    return node.apply(nn.Slice(starts, ends, axes, steps), [x])


def _runtime_slice(node: OnnxNode, x, starts, ends, axes, steps):
    """A Slice whose starts/ends (or axes/steps) are graph values: fixed axes and steps stay in the config."""
    if isinstance(axes, Sym) or isinstance(steps, Sym):
        if axes is None:
            raise node.error("computed steps need the axes input")
        return node.apply(nn.Slice(), [x, starts, ends, axes, steps])
    if not isinstance(starts, Sym) and not isinstance(ends, Sym):
        raise node.error("internal: no computed bound")
    return node.apply(nn.Slice(None, None, _ints(axes), _ints(steps)), [x, starts, ends])


@ONNX.register("Expand", since=8)
def expand(node: OnnxNode):
    x = node.value(0)
    if isinstance(node.value(1), Sym):  # a shape computed at run time
        return node.apply(nn.Expand(), [x, node.value(1)])
    shape = [int(s) for s in np.asarray(node.const(1, "shape")).reshape(-1)]
    if not isinstance(x, Sym):
        out = np.broadcast_shapes(np.shape(x), tuple(shape))
        node.ctx.check_size(out, np.asarray(x).dtype, node.where)
        return np.broadcast_to(x, out).copy()
    return node.apply(nn.Expand(shape), [x])


@ONNX.register("Tile", since=6)
def tile(node: OnnxNode):
    x = node.value(0)
    if isinstance(node.value(1), Sym):  # repeats computed at run time
        return node.apply(nn.Tile(), [x, node.value(1)])
    repeats = [int(r) for r in np.asarray(node.const(1, "repeats")).reshape(-1)]
    if not isinstance(x, Sym):
        out = [d * r for d, r in zip(np.shape(x), repeats)]
        node.ctx.check_size(out, np.asarray(x).dtype, node.where)
        return np.tile(x, repeats)
    return node.apply(nn.Tile(repeats), [x])


@ONNX.register("DepthToSpace", since=1)
def depth_to_space(node: OnnxNode):
    return node.apply(nn.DepthToSpace(int(node.attr("blocksize")), node.attr("mode", "DCR")), [node.value(0)])


@ONNX.register("SpaceToDepth", since=1)
def space_to_depth(node: OnnxNode):
    return node.apply(nn.SpaceToDepth(int(node.attr("blocksize")), node.attr("mode", "DCR")), [node.value(0)])
