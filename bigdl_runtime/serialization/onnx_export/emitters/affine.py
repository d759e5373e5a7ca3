"""Caffe's per-channel affine layers: Scale and Bias (parameters broadcast from ``axis``) and Power."""
from __future__ import annotations

import numpy as np

from ....nn.layers.affine import Bias, Power, Scale, _ChannelAffine
from ..context import ExportContext, Value
from ..dispatch import emits


def _broadcast(ctx: ExportContext, layer: _ChannelAffine, array: np.ndarray, rank: int, key: str, name: str) -> str:
    """``array`` (shaped like the input's axes from ``axis``) reshaped to broadcast against the input."""
    axis = layer.axis % rank
    if axis == 0:
        raise ValueError("parameters that cover the batch axis cannot be exported: that axis is dynamic")
    return ctx.weight(f"{name}.{key}", array.reshape(*array.shape, *[1] * (rank - axis - array.ndim)))


@emits(Scale, Bias)
def channel_affine(ctx: ExportContext, layer: _ChannelAffine, inputs: list[Value], output: np.ndarray,
                   name: str) -> str:
    x = inputs[0]
    weight = getattr(layer, "weight", None)
    bias = layer.bias
    if weight is None:
        return ctx.one("Add", [x.name, _broadcast(ctx, layer, bias.data, x.rank, "bias", name)], name)
    scaled_name = name if bias is None else f"{name}/scaled"
    scaled = ctx.one("Mul", [x.name, _broadcast(ctx, layer, weight.data, x.rank, "weight", name)], scaled_name)
    if bias is None:
        return scaled
    return ctx.one("Add", [scaled, _broadcast(ctx, layer, bias.data, x.rank, "bias", name)], name)


@emits(Power)
def power(ctx: ExportContext, layer: Power, inputs: list[Value], output: np.ndarray, name: str) -> str:
    """``(shift + scale * x) ** power``, leaving out the steps that are identities."""
    steps = [("Mul", "scale", layer.scale, 1.0), ("Add", "shift", layer.shift, 0.0), ("Pow", "power", layer.power, 1.0)]
    wanted = [s for s in steps if s[2] != s[3]]
    if not wanted:
        return ctx.one("Identity", [inputs[0].name], name)
    current = inputs[0].name
    for i, (op, key, value, _) in enumerate(wanted):
        last = i == len(wanted) - 1
        current = ctx.one(op, [current, ctx.scalar(f"{name}.{key}", value)], name if last else f"{name}/{key}")
    return current
