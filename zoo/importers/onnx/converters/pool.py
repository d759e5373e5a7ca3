"""MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool onto our 2-D pooling layers.

ONNX's defaults differ from PyTorch's: strides default to 1 (not the kernel size)
and AveragePool excludes the padding from the divisor unless count_include_pad=1.
"""
from __future__ import annotations

from bigdl_runtime.nn import AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d

from ..context import OnnxNode
from ..registry import ONNX
from .spatial import ints, pads


def _window(node: OnnxNode) -> tuple[list[int], list[int], list[int], list[int]]:
    kernel = [int(k) for k in node.attr("kernel_shape", [])]
    if len(kernel) != 2:
        raise node.error(f"only 2-D pooling is supported (kernel_shape={kernel})")
    rank = node.rank(0)
    if rank is not None and rank != 4:
        raise node.error(f"only 2-D pooling of (N, C, H, W) inputs is supported, the input has rank {rank}")
    strides, dilations = ints(node, "strides", 2, 1), ints(node, "dilations", 2, 1)
    return kernel, strides, dilations, pads(node, kernel, strides, dilations)


@ONNX.register("MaxPool", since=1)
def max_pool(node: OnnxNode):
    if len([o for o in node.outputs if o]) > 1:
        raise node.error("the Indices output of MaxPool is not supported")
    kernel, strides, dilations, p = _window(node)
    layer = MaxPool2d(kernel, strides, p, dilations, ceil_mode=bool(node.attr("ceil_mode", 0)))
    return node.apply(layer, [node.value(0)])


@ONNX.register("AveragePool", since=1)
def average_pool(node: OnnxNode):
    kernel, strides, dilations, p = _window(node)
    if dilations != [1, 1]:
        raise node.error(f"dilated average pooling (dilations={dilations}) is not supported")
    layer = AvgPool2d(kernel, strides, p, ceil_mode=bool(node.attr("ceil_mode", 0)),
                      count_include_pad=bool(node.attr("count_include_pad", 0)))
    return node.apply(layer, [node.value(0)])


def _global(node: OnnxNode, cls):
    rank = node.rank(0)
    if rank is not None and rank != 4:
        raise node.error(f"only (N, C, H, W) inputs are supported, the input has rank {rank}")
    return node.apply(cls(), [node.value(0)])


@ONNX.register("GlobalAveragePool", since=1)
def global_average_pool(node: OnnxNode):
    return _global(node, GlobalAvgPool2d)


@ONNX.register("GlobalMaxPool", since=1)
def global_max_pool(node: OnnxNode):
    return _global(node, GlobalMaxPool2d)
