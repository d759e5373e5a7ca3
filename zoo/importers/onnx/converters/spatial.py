"""Spatial attribute helpers shared by Conv, ConvTranspose and the pools.

ONNX lists spatial attributes axis by axis, H then W (``kernel_shape = [kh, kw]``,
``pads = [top, left, bottom, right]``), which is also the order our layers take.
"""
from __future__ import annotations

import math

from bigdl_runtime import nn

from ..context import OnnxNode


def ints(node: OnnxNode, key: str, n: int, default: int) -> list[int]:
    """A per-axis int attribute (strides, dilations), ``default`` on every axis when absent."""
    value = node.attr(key)
    if value is None:
        return [default] * n
    value = [int(v) for v in value]
    if len(value) != n:
        raise node.error(f"{key}={value} must have one entry per spatial axis ({n})")
    return value


def spatial_dims(node: OnnxNode, i: int = 0) -> list[int]:
    """Static spatial sizes of input ``i`` (needed by auto_pad SAME and output_shape)."""
    shape = node.shape(i)
    if shape is None or any(d is None for d in shape[2:]):
        raise node.error("auto_pad SAME needs static spatial input dimensions; give the graph input a static shape "
                         "or export with explicit pads")
    return [int(d) for d in shape[2:]]


def pads(node: OnnxNode, kernel: list[int], strides: list[int], dilations: list[int]) -> list[int] | None:
    """Begin-then-end pads from ``pads`` or ``auto_pad`` (SAME_UPPER puts the odd pixel at the end).

    None for auto_pad SAME with a stride over 1 on spatial sizes known only at run time: the
    caller pads with :func:`same_padded` first (a stride of 1 pads ``(k - 1) * d`` whatever the size).
    """
    n = len(kernel)
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        value = [int(p) for p in node.attr("pads", [0] * 2 * n)]
        if len(value) != 2 * n:
            raise node.error(f"pads={value} must have 2 entries per spatial axis ({2 * n})")
        if min(value) < 0:
            raise node.error(f"negative pads {value} are not supported")
        return value
    if auto == "VALID":
        return [0] * 2 * n
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise node.error(f"unknown auto_pad {auto!r}")
    shape = node.shape(0)
    if shape is None or any(dim is None for dim in shape[2:]):
        if set(strides) != {1}:
            return None
        shape = (None, None) + (1,) * n  # with stride 1 the pads do not depend on the size
    begin, end = [], []
    for size, k, s, d in zip(shape[2:], kernel, strides, dilations):
        out = math.ceil(size / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else large)
        end.append(large if auto == "SAME_UPPER" else small)
    return begin + end


def same_padded(node: OnnxNode, x, kernel: list[int], strides: list[int], dilations: list[int], value: float = 0.0):
    """``x`` padded for auto_pad SAME by a layer that computes the pads from each call's input size."""
    layer = nn.SamePad(kernel, strides, dilations, upper=node.attr("auto_pad") == "SAME_UPPER", value=value)
    return node.apply(layer, [x], suffix="/same_pad")
