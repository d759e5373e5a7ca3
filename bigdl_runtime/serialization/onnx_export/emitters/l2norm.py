"""Normalize (SSD's L2 normalisation with a learned scale): ``x / sqrt(sum x^2 + eps) * scale``."""
from __future__ import annotations

import numpy as np

from ....nn.layers.l2norm import Normalize
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Normalize)
def normalize(ctx: ExportContext, layer: Normalize, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x = inputs[0]
    axes = list(range(1, x.rank)) if layer.across_spatial else [1]
    sums = ctx.one("ReduceSumSquare", [x.name, ctx.ints(f"{name}/axes", axes)], f"{name}/sum_squares", keepdims=1)
    norm = ctx.one("Sqrt", [ctx.one("Add", [sums, ctx.scalar(f"{name}.eps", layer.eps)], f"{name}/sum_eps")],
                   f"{name}/norm")
    unit = ctx.one("Div", [x.name, norm], f"{name}/unit")
    scale = layer.weight.data
    if not layer.channel_shared:  # one scale per channel (axis 1)
        scale = scale.reshape(-1, *[1] * (x.rank - 2))
    return ctx.one("Mul", [unit, ctx.weight(f"{name}.weight", scale)], name)
