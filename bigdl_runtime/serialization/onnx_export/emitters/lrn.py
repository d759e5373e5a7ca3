"""LocalResponseNorm: ONNX LRN across channels (same window; odd sizes, which is all onnxruntime runs);
otherwise an AveragePool of ``x^2`` over the window with zeros counted, i.e. the clipped window's sum
divided by its full size: over a ``size x size`` square within a channel, or over ``size`` channels
(even sizes) on the input viewed as ``(N, 1, C, rest)``."""
from __future__ import annotations

import numpy as np

from ....nn.layers.lrn import LocalResponseNorm
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(LocalResponseNorm)
def lrn(ctx: ExportContext, layer: LocalResponseNorm, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x = inputs[0].name
    across = layer.region == "across"
    if across and layer.size % 2 == 1:
        return ctx.one("LRN", [x], name, size=layer.size, alpha=layer.alpha, beta=layer.beta, bias=layer.k)
    before, after = (layer.size - 1) // 2, layer.size // 2
    squares = ctx.one("Mul", [x, x], f"{name}/square")
    if across:
        shape = inputs[0].shape
        view = ctx.one("Reshape", [squares, ctx.ints(f"{name}/channels_view", [0, 1, shape[1], -1])],
                       f"{name}/channels_view")
        pooled = ctx.one("AveragePool", [view], f"{name}/window_view", kernel_shape=[layer.size, 1],
                         pads=[before, 0, after, 0], count_include_pad=1)
        mean = ctx.one("Reshape", [pooled, ctx.ints(f"{name}/input_shape", [0, *shape[1:]])], f"{name}/window_mean")
    else:
        mean = ctx.one("AveragePool", [squares], f"{name}/window_mean", kernel_shape=[layer.size] * 2,
                       pads=[before, before, after, after], count_include_pad=1)
    scaled = ctx.one("Mul", [mean, ctx.scalar(f"{name}.alpha", layer.alpha)], f"{name}/scaled")
    base = ctx.one("Add", [scaled, ctx.scalar(f"{name}.k", layer.k)], f"{name}/base")
    divisor = ctx.one("Pow", [base, ctx.scalar(f"{name}.beta", layer.beta)], f"{name}/divisor")
    return ctx.one("Div", [x, divisor], name)
