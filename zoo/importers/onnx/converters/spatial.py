"""Spatial attribute helpers shared by Conv, ConvTranspose and the pools.

ONNX lists spatial attributes axis by axis, H then W (``kernel_shape = [kh, kw]``,
``pads = [top, left, bottom, right]``), which is also the order our layers take.
"""
from __future__ import annotations

import math

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


def pads(node: OnnxNode, kernel: list[int], strides: list[int], dilations: list[int]) -> list[int]:
    """Begin-then-end pads from ``pads`` or ``auto_pad`` (SAME_UPPER puts the odd pixel at the end)."""
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
    sizes = spatial_dims(node)
    begin, end = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        out = math.ceil(size / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else large)
        end.append(large if auto == "SAME_UPPER" else small)
    return begin + end
