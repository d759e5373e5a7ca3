"""Indexing and shape-moving layers of the importer: Gather, Slice, Expand, Tile, Squeeze, Unsqueeze,
DepthToSpace / PixelShuffle and SpaceToDepth / PixelUnshuffle.

Fixed index arguments become int64 initializers; index arguments given as
extra inputs are passed through. SpaceToDepth in ``CRD`` order (PixelUnshuffle)
has no ONNX operator before opset 28 and is written as Reshape, Transpose, Reshape.
"""
from __future__ import annotations

import numpy as np

from ....nn.layers import index as I
from ..context import ExportContext, Value
from ..dispatch import emits


def _fixed_or_input(ctx: ExportContext, fixed: list[int] | None, inputs: list[Value], position: int,
                    key: str, name: str) -> str:
    """The name of an index argument: an initializer when fixed, else the layer's input at ``position``."""
    if fixed is not None:
        return ctx.ints(f"{name}/{key}", fixed)
    return inputs[position].name if position < len(inputs) else ""


@emits(I.Gather)
def gather(ctx: ExportContext, layer: I.Gather, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Gather", [inputs[0].name, inputs[1].name], name, axis=layer.dim)


@emits(I.Slice)
def slice_(ctx: ExportContext, layer: I.Slice, inputs: list[Value], output: np.ndarray, name: str) -> str:
    if layer.starts is not None:
        axes = layer.axes if layer.axes is not None else list(range(len(layer.starts)))
        args = [ctx.ints(f"{name}/starts", layer.starts), ctx.ints(f"{name}/ends", layer.ends),
                ctx.ints(f"{name}/axes", axes)]
        if layer.steps is not None:
            args.append(ctx.ints(f"{name}/steps", layer.steps))
    else:
        args = [inputs[1].name, inputs[2].name, _fixed_or_input(ctx, layer.axes, inputs, 3, "axes", name),
                _fixed_or_input(ctx, layer.steps, inputs, 4, "steps", name)]
        while args and not args[-1]:
            args.pop()
    return ctx.one("Slice", [inputs[0].name, *args], name)


@emits(I.Expand)
def expand(ctx: ExportContext, layer: I.Expand, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Expand", [inputs[0].name, _fixed_or_input(ctx, layer.shape, inputs, 1, "shape", name)], name)


@emits(I.Tile)
def tile(ctx: ExportContext, layer: I.Tile, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Tile", [inputs[0].name, _fixed_or_input(ctx, layer.repeats, inputs, 1, "repeats", name)], name)


@emits(I.Squeeze)
def squeeze(ctx: ExportContext, layer: I.Squeeze, inputs: list[Value], output: np.ndarray, name: str) -> str:
    args = [inputs[0].name] + ([] if layer.dim is None else [ctx.ints(f"{name}/axes", layer.dim)])
    return ctx.one("Squeeze", args, name)


@emits(I.Unsqueeze)
def unsqueeze(ctx: ExportContext, layer: I.Unsqueeze, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Unsqueeze", [inputs[0].name, ctx.ints(f"{name}/axes", layer.dim)], name)


@emits(I.DepthToSpace, I.PixelShuffle)
def depth_to_space(ctx: ExportContext, layer: I.DepthToSpace, inputs: list[Value], output: np.ndarray,
                   name: str) -> str:
    return ctx.one("DepthToSpace", [inputs[0].name], name, blocksize=layer.block_size, mode=layer.mode)


@emits(I.SpaceToDepth, I.PixelUnshuffle)
def space_to_depth(ctx: ExportContext, layer: I.SpaceToDepth, inputs: list[Value], output: np.ndarray,
                   name: str) -> str:
    x, b = inputs[0], layer.block_size
    if layer.mode == "DCR":
        return ctx.one("SpaceToDepth", [x.name], name, blocksize=b)
    _, c, h, w = x.shape
    blocks = ctx.one("Reshape", [x.name, ctx.ints(f"{name}/blocks", [0, c, h // b, b, w // b, b])], f"{name}/blocks")
    moved = ctx.one("Transpose", [blocks], f"{name}/channels_first", perm=[0, 1, 3, 5, 2, 4])
    return ctx.one("Reshape", [moved, ctx.ints(f"{name}/shape", [0, c * b * b, h // b, w // b])], name)
