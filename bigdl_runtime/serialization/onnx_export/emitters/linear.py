"""Linear as Gemm (2-D input) or MatMul + Add (any rank)."""
from __future__ import annotations

import numpy as np

from ....nn.layers.linear import Linear
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Linear)
def linear(ctx: ExportContext, layer: Linear, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x = inputs[0]
    if x.rank == 2:
        args = [x.name, ctx.weight(f"{name}.weight", layer.weight.data)]
        if layer.bias is not None:
            args.append(ctx.weight(f"{name}.bias", layer.bias.data))
        return ctx.one("Gemm", args, name, transB=1)
    # MatMul broadcasts over the leading axes; the weight is stored transposed (in, out)
    weight_t = ctx.weight(f"{name}.weight_t", layer.weight.data.T)
    if layer.bias is None:
        return ctx.one("MatMul", [x.name, weight_t], name)
    product = ctx.one("MatMul", [x.name, weight_t], f"{name}/matmul")
    return ctx.one("Add", [product, ctx.weight(f"{name}.bias", layer.bias.data)], name)
