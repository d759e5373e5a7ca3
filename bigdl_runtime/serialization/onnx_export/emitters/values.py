"""Layers that make or inspect tensors, as imported graphs use them: TensorSource (an initializer),
ShapeOf (Shape), ReshapeTo (Reshape to a fixed or computed shape), Cast, ConstantOfShape and Range."""
from __future__ import annotations

import numpy as np
from onnx import helper

from ....nn.layers.graph_values import ReshapeTo, ShapeOf, TensorSource
from ....nn.layers.runtime_values import Cast, ConstantOfShape, Range
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(TensorSource)
def tensor_source(ctx: ExportContext, layer: TensorSource, inputs: list[Value], output: np.ndarray,
                  name: str) -> str:
    value = layer._array().reshape(layer.shape)  # a 0-D Parameter is stored 1-D; the declared shape is the truth
    return ctx.weight(f"{name}.value", value, dtype=None if value.dtype.kind == "f" else value.dtype)


@emits(ShapeOf)
def shape_of(ctx: ExportContext, layer: ShapeOf, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Shape", [inputs[0].name], name, start=layer.start or None, end=layer.end)


@emits(ReshapeTo)
def reshape_to(ctx: ExportContext, layer: ReshapeTo, inputs: list[Value], output: np.ndarray, name: str) -> str:
    shape = ctx.ints(f"{name}/shape", layer.shape) if layer.shape is not None else inputs[1].name
    return ctx.one("Reshape", [inputs[0].name, shape], name, allowzero=int(layer.allowzero) or None)


@emits(Cast)
def cast(ctx: ExportContext, layer: Cast, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Cast", [inputs[0].name], name, to=helper.np_dtype_to_tensor_dtype(np.dtype(layer.dtype)))


@emits(ConstantOfShape)
def constant_of_shape(ctx: ExportContext, layer: ConstantOfShape, inputs: list[Value], output: np.ndarray,
                      name: str) -> str:
    fill = helper.make_tensor("value", helper.np_dtype_to_tensor_dtype(np.dtype(layer.dtype)), [1], [layer.value])
    return ctx.one("ConstantOfShape", [inputs[0].name], name, value=fill)


@emits(Range)
def range_(ctx: ExportContext, layer: Range, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Range", [v.name for v in inputs], name)
