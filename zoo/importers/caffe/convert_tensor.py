"""Converters of Caffe's data-movement layers: Input, Concat, Slice, Split, Flatten, Reshape, Permute,
Crop and Silence.

Our Reshape keeps the batch axis, so a Caffe reshape must leave axis 0 alone; the
per-sample target shape is resolved from the prototxt's shapes (Caffe's 0 = copy and
-1 = infer) at import time.
"""
from __future__ import annotations

import math

from bigdl_runtime.nn import Concat, Crop, Flatten, Input, Reshape, Split, Transpose

from .context import LayerContext, Value, converter


@converter("Input")
def input_layer(ctx: LayerContext) -> list[Value]:
    """One graph input per top, shaped by ``input_param.shape`` (one shape for all tops, or one each)."""
    ctx.expect_inputs(0)
    tops, shapes = list(ctx.layer.top), list(ctx.layer.input_param.shape)
    if len(shapes) not in (1, len(tops)):
        raise ctx.fail(f"needs one input_param shape, or one per top ({len(tops)}), got {len(shapes)}")
    shapes = shapes * len(tops) if len(shapes) == 1 else shapes
    return [Value(Input(name=top), tuple(int(d) for d in shape.dim)) for top, shape in zip(tops, shapes)]


@converter("Concat")
def concat(ctx: LayerContext) -> list[Value]:
    """Concat along ``axis`` (or the deprecated ``concat_dim``)."""
    p = ctx.layer.concat_param
    if not ctx.inputs:
        raise ctx.fail("expects at least one bottom blob")
    axis = ctx.axis(p.concat_dim if p.HasField("concat_dim") else p.axis)
    first = ctx.shape()
    for i, v in enumerate(ctx.inputs[1:], start=1):
        if len(v.shape) != len(first) or any(a != b for d, (a, b) in enumerate(zip(first, v.shape)) if d != axis):
            raise ctx.fail(f"bottom {i} of shape {v.shape} does not fit bottom 0 of shape {first} "
                           f"(they may differ on axis {axis} only)")
    total = sum(v.shape[axis] for v in ctx.inputs)
    return [Value(ctx.apply(Concat(dim=axis, name=ctx.name)), (*first[:axis], total, *first[axis + 1:]))]


@converter("Slice")
def slice_layer(ctx: LayerContext) -> list[Value]:
    """Cut at ``slice_point`` (or into equal parts, one per top) along ``axis``."""
    ctx.expect_inputs(1)
    p = ctx.layer.slice_param
    shape = ctx.shape()
    axis = ctx.axis(p.slice_dim if p.HasField("slice_dim") else p.axis)
    length, count = shape[axis], len(ctx.layer.top)
    if p.slice_point:
        points = [int(v) for v in p.slice_point]
        if len(points) != count - 1 or points != sorted(points) or points[0] <= 0 or points[-1] >= length:
            raise ctx.fail(f"slice_point {points} must be {count - 1} increasing positions inside (0, {length})")
        sizes = [b - a for a, b in zip([0, *points], [*points, length])]
    else:
        if count < 1 or length % count:
            raise ctx.fail(f"axis {axis} of size {length} cannot be cut into {count} equal parts")
        sizes = [length // count] * count
    if count == 1:
        return [ctx.inputs[0]]
    node = ctx.apply(Split(sizes, dim=axis, name=ctx.name))
    return [Value(node[i], (*shape[:axis], size, *shape[axis + 1:])) for i, size in enumerate(sizes)]


@converter("Split")
def split(ctx: LayerContext) -> list[Value]:
    """Caffe's Split copies its bottom to every top: no layer, the tops are the bottom."""
    ctx.expect_inputs(1)
    return [ctx.inputs[0]] * len(ctx.layer.top)


@converter("Silence")
def silence(ctx: LayerContext) -> list[Value]:
    """Consumes its bottoms and produces nothing."""
    return []


def _reshape(ctx: LayerContext, out: tuple, suffix: str | None = None) -> list[Value]:
    """A Reshape of the single bottom to the full shape ``out`` (the batch axis must stay)."""
    shape = ctx.shape()
    if out[0] != shape[0]:
        raise ctx.fail(f"reshaping {shape} to {out} changes the batch axis, which is not supported")
    name = ctx.name if suffix is None else ctx.sub_name(suffix)
    return [Value(ctx.apply(Reshape(list(out[1:]), name=name)), out)]


@converter("Flatten")
def flatten(ctx: LayerContext) -> list[Value]:
    """Flatten from ``axis`` to ``end_axis`` (a Reshape unless it is the usual ``(N, -1)``)."""
    ctx.expect_inputs(1)
    p = ctx.layer.flatten_param
    shape = ctx.shape()
    start, end = ctx.axis(p.axis), ctx.axis(p.end_axis)
    if end < start:
        raise ctx.fail(f"end_axis {p.end_axis} comes before axis {p.axis} for input {shape}")
    out = (*shape[:start], math.prod(shape[start:end + 1]), *shape[end + 1:])
    if start == 1 and end == len(shape) - 1:
        return [Value(ctx.apply(Flatten(1, name=ctx.name)), out)]
    return _reshape(ctx, out)


@converter("Reshape")
def reshape(ctx: LayerContext) -> list[Value]:
    """Caffe's rules: the dims replace input axes ``[axis, axis + num_axes)``; 0 copies, -1 infers."""
    ctx.expect_inputs(1)
    p = ctx.layer.reshape_param
    shape = ctx.shape()
    ndim = len(shape)
    if not -ndim - 1 <= p.axis <= ndim:
        raise ctx.fail(f"axis {p.axis} is out of range for input {shape}")
    start = p.axis + ndim + 1 if p.axis < 0 else p.axis
    end = ndim if p.num_axes == -1 else start + p.num_axes
    if p.num_axes < -1 or end > ndim:
        raise ctx.fail(f"num_axes {p.num_axes} from axis {p.axis} goes past the input's axes {shape}")
    dims = [int(d) for d in p.shape.dim]
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise ctx.fail(f"shape {dims} may hold one -1 and no other negative value")
    target = []
    for i, d in enumerate(dims):
        if d == 0:
            if start + i >= ndim:
                raise ctx.fail(f"dim {i} is 0 (copy) but the input {shape} has no axis {start + i}")
            d = shape[start + i]
        target.append(d)
    kept = math.prod(shape[:start]) * math.prod(shape[end:])
    known = kept * math.prod(d for d in target if d != -1)
    total = math.prod(shape)
    if -1 in target:
        if known == 0 or total % known:
            raise ctx.fail(f"cannot infer the -1 in {dims} for input {shape}")
        target[target.index(-1)] = total // known
    out = (*shape[:start], *target, *shape[end:])
    if math.prod(out) != total:
        raise ctx.fail(f"cannot reshape {shape} ({total} values) to {out}")
    return _reshape(ctx, out)


@converter("Permute")
def permute(ctx: LayerContext) -> list[Value]:
    """SSD's Permute: the given axis order, then the unnamed axes in their order."""
    ctx.expect_inputs(1)
    shape = ctx.shape()
    order = [ctx.axis(int(a)) for a in ctx.layer.permute_param.order]
    if len(set(order)) != len(order):
        raise ctx.fail(f"order {list(ctx.layer.permute_param.order)} repeats an axis")
    order += [a for a in range(len(shape)) if a not in order]
    if order == list(range(len(shape))):
        return [ctx.inputs[0]]
    return [Value(ctx.apply(Transpose(order, name=ctx.name)), tuple(shape[a] for a in order))]


@converter("Crop")
def crop(ctx: LayerContext) -> list[Value]:
    """Cut bottom 0 to bottom 1's shape on the axes from ``axis`` on."""
    ctx.expect_inputs(2)
    p = ctx.layer.crop_param
    x, ref = ctx.shape(0), ctx.shape(1)
    if len(x) != len(ref):
        raise ctx.fail(f"bottoms {x} and {ref} must have the same rank")
    axis = ctx.axis(p.axis)
    offsets = [int(o) for o in p.offset]
    count = len(x) - axis
    if len(offsets) not in (0, 1, count):
        raise ctx.fail(f"give 0, 1 or {count} offsets, got {offsets}")
    starts = offsets * count if len(offsets) == 1 else (offsets or [0] * count)
    for d, s in zip(range(axis, len(x)), starts):
        if s + ref[d] > x[d]:
            raise ctx.fail(f"axis {d} of bottom 0 {x} cannot be cut to {ref[d]} from offset {s}")
    return [Value(ctx.apply(Crop(axis, offsets, name=ctx.name)), (*x[:axis], *ref[axis:]))]
