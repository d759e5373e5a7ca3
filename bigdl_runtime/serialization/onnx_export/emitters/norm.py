"""BatchNorm1d/2d as BatchNormalization (running statistics) and LayerNorm as LayerNormalization.

A batch norm without running statistics (``track_running_stats=False``)
normalises with the batch's own statistics in evaluation too; it is written
out as ReduceMean nodes over every axis but the channels.
"""
from __future__ import annotations

import numpy as np

from ....nn.layers.norm import BatchNorm1d, BatchNorm2d, LayerNorm, _BatchNorm
from ..context import ExportContext, Value
from ..dispatch import emits


def _affine(ctx: ExportContext, layer: _BatchNorm | LayerNorm, name: str, shape: list[int]) -> tuple[str, str]:
    if layer.weight is None:
        return ctx.weight(f"{name}.weight", np.ones(shape)), ctx.weight(f"{name}.bias", np.zeros(shape))
    return ctx.weight(f"{name}.weight", layer.weight.data), ctx.weight(f"{name}.bias", layer.bias.data)


@emits(BatchNorm1d, BatchNorm2d)
def batch_norm(ctx: ExportContext, layer: _BatchNorm, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x = inputs[0]
    scale, bias = _affine(ctx, layer, name, [layer.num_features])
    if layer.track_running_stats:
        mean = ctx.weight(f"{name}.running_mean", layer.running_mean)
        var = ctx.weight(f"{name}.running_var", layer.running_var)
        return ctx.one("BatchNormalization", [x.name, scale, bias, mean, var], name, epsilon=layer.eps)
    axes = ctx.ints(f"{name}/axes", [0, *range(2, x.rank)])
    mean = ctx.one("ReduceMean", [x.name, axes], f"{name}/mean", keepdims=1)
    centred = ctx.one("Sub", [x.name, mean], f"{name}/centred")
    var = ctx.one("ReduceMean", [ctx.one("Mul", [centred, centred], f"{name}/square"), axes], f"{name}/var",
                  keepdims=1)
    std = ctx.one("Sqrt", [ctx.one("Add", [var, ctx.scalar(f"{name}.eps", layer.eps)], f"{name}/var_eps")],
                  f"{name}/std")
    normed = ctx.one("Div", [centred, std], f"{name}/normed")
    channel = [layer.num_features] + [1] * (x.rank - 2)
    shape = ctx.ints(f"{name}/channel_shape", channel)
    scaled = ctx.one("Mul", [normed, ctx.one("Reshape", [scale, shape], f"{name}/scale")], f"{name}/scaled")
    return ctx.one("Add", [scaled, ctx.one("Reshape", [bias, shape], f"{name}/shift")], name)


@emits(LayerNorm)
def layer_norm(ctx: ExportContext, layer: LayerNorm, inputs: list[Value], output: np.ndarray, name: str) -> str:
    scale, bias = _affine(ctx, layer, name, layer.normalized_shape)
    return ctx.one("LayerNormalization", [inputs[0].name, scale, bias], name,
                   axis=-len(layer.normalized_shape), epsilon=layer.eps)
