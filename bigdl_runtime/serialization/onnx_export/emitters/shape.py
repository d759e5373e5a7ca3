"""Concat, Split, Reshape (batch kept), Flatten and Transpose."""
from __future__ import annotations

import numpy as np

from ....nn.layers.shape import Chunk, Concat, Flatten, Reshape, Split, SplitBy, Transpose
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Concat)
def concat(ctx: ExportContext, layer: Concat, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Concat", [v.name for v in inputs], name, axis=layer.dim)


@emits(Split, Chunk, SplitBy)  # the sizes are the traced parts' (a computed SplitBy size is static off the batch axis)
def split(ctx: ExportContext, layer: Split, inputs: list[Value], output: tuple[np.ndarray, ...],
          name: str) -> list[str]:
    x = inputs[0]
    axis = layer.dim % x.rank
    if axis == 0:
        raise ValueError("splitting along the first (batch) axis cannot be exported: that axis is dynamic")
    sizes = ctx.ints(f"{name}/sizes", [part.shape[axis] for part in output])
    return ctx.node("Split", [x.name, sizes], name, n_outputs=len(output), axis=axis)


@emits(Reshape)
def reshape(ctx: ExportContext, layer: Reshape, inputs: list[Value], output: np.ndarray, name: str) -> str:
    # ONNX's 0 copies the input's dimension at the same position: the batch, and our per-sample zeros
    shape = ctx.ints(f"{name}/shape", [0, *layer.shape])
    return ctx.one("Reshape", [inputs[0].name, shape], name)


@emits(Flatten)
def flatten(ctx: ExportContext, layer: Flatten, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Flatten", [inputs[0].name], name, axis=layer.start_dim)


@emits(Transpose)
def transpose(ctx: ExportContext, layer: Transpose, inputs: list[Value], output: np.ndarray, name: str) -> str:
    if layer.dims is None:  # reverse the axes: ONNX's default
        return ctx.one("Transpose", [inputs[0].name], name)
    return ctx.one("Transpose", [inputs[0].name], name, perm=layer.dims)
