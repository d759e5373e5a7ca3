"""Pooling: MaxPool / AveragePool (asymmetric pads, ceil mode), global pools, adaptive average pooling.

AdaptiveAvgPool2d has no ONNX operator: it becomes AveragePool when the input
divides evenly into the output bins, else two MatMuls with the (static) bin
averaging matrices, ``P_h @ x @ P_w^T``, which is exact for PyTorch's
overlapping bins ``[floor(i * H / Ho), ceil((i + 1) * H / Ho))``.
"""
from __future__ import annotations

import math

import numpy as np

from ....nn.layers.pool import AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d
from ..context import ExportContext, Value
from ..dispatch import emits


def _pair(value: int | list[int] | None, default: list[int]) -> list[int]:
    if value is None:
        return default
    return [int(value)] * 2 if isinstance(value, int) else [int(v) for v in value]


def _pads(padding: int | list[int]) -> list[int]:
    if isinstance(padding, int):
        return [padding] * 4
    return list(padding) * 2 if len(padding) == 2 else list(padding)


@emits(MaxPool2d)
def max_pool(ctx: ExportContext, layer: MaxPool2d, inputs: list[Value], output: np.ndarray, name: str) -> str:
    kernel = _pair(layer.kernel_size, [])
    return ctx.one("MaxPool", [inputs[0].name], name, kernel_shape=kernel, strides=_pair(layer.stride, kernel),
                   pads=_pads(layer.padding), dilations=_pair(layer.dilation, [1, 1]), ceil_mode=int(layer.ceil_mode))


@emits(AvgPool2d)
def avg_pool(ctx: ExportContext, layer: AvgPool2d, inputs: list[Value], output: np.ndarray, name: str) -> str:
    kernel = _pair(layer.kernel_size, [])
    return ctx.one("AveragePool", [inputs[0].name], name, kernel_shape=kernel, strides=_pair(layer.stride, kernel),
                   pads=_pads(layer.padding), ceil_mode=int(layer.ceil_mode),
                   count_include_pad=int(layer.count_include_pad))


@emits(GlobalAvgPool2d)
def global_avg_pool(ctx: ExportContext, layer: GlobalAvgPool2d, inputs: list[Value], output: np.ndarray,
                    name: str) -> str:
    return ctx.one("GlobalAveragePool", [inputs[0].name], name)


@emits(GlobalMaxPool2d)
def global_max_pool(ctx: ExportContext, layer: GlobalMaxPool2d, inputs: list[Value], output: np.ndarray,
                    name: str) -> str:
    return ctx.one("GlobalMaxPool", [inputs[0].name], name)


def bin_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)``: row i averages PyTorch's adaptive bin i of an axis of length ``n_in``."""
    m = np.zeros((n_out, n_in), np.float64)
    for i in range(n_out):
        lo, hi = (i * n_in) // n_out, math.ceil((i + 1) * n_in / n_out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


@emits(AdaptiveAvgPool2d)
def adaptive_avg_pool(ctx: ExportContext, layer: AdaptiveAvgPool2d, inputs: list[Value], output: np.ndarray,
                      name: str) -> str:
    x = inputs[0]
    (h, w), (ho, wo) = x.shape[2:], output.shape[2:]
    if (ho, wo) == (1, 1):
        return ctx.one("GlobalAveragePool", [x.name], name)
    if h % ho == 0 and w % wo == 0:
        kernel = [h // ho, w // wo]
        return ctx.one("AveragePool", [x.name], name, kernel_shape=kernel, strides=kernel)
    cols = ctx.one("MatMul", [x.name, ctx.weight(f"{name}.bins_w", bin_matrix(w, wo).T)], f"{name}/cols")
    return ctx.one("MatMul", [ctx.weight(f"{name}.bins_h", bin_matrix(h, ho)), cols], name)
