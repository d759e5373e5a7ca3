"""MaxPool, AveragePool, LpPool (1-D and 2-D), GlobalAveragePool, GlobalMaxPool (any rank) onto our pooling
layers; MaxPool's Indices output and MaxUnpool (any number of spatial axes).

ONNX's defaults differ from PyTorch's: strides default to 1 (not the kernel size)
and AveragePool excludes the padding from the divisor unless count_include_pad=1.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn import AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool2d

from ..context import OnnxNode
from ..registry import ONNX
from .spatial import ints, pads, same_padded


def _window(node: OnnxNode) -> tuple[list[int], list[int], list[int], list[int]]:
    """kernel, strides, dilations, pads; a 1-D window becomes a 1 x k window over (N, C, 1, L)."""
    kernel = [int(k) for k in node.attr("kernel_shape", [])]
    n = len(kernel)
    rank = node.rank(0)
    if n not in (1, 2) or (rank is not None and rank != n + 2):
        raise node.error(f"only 1-D and 2-D pooling is supported (kernel_shape={kernel}, input rank {rank})")
    strides, dilations = ints(node, "strides", n, 1), ints(node, "dilations", n, 1)
    p = pads(node, kernel, strides, dilations)
    if n == 1:
        return [1, *kernel], [1, *strides], [1, *dilations], None if p is None else [0, p[0], 0, p[1]]
    return kernel, strides, dilations, p


def _pool(node: OnnxNode, layer, x=None):
    """Apply a 2-D pooling layer (to ``x``, default the node's input); 1-D inputs get a unit H axis around it."""
    x = node.value(0) if x is None else x
    if len(node.attr("kernel_shape", [])) == 2:
        return node.apply(layer, [x])
    x = node.apply(nn.Unsqueeze(2), [x], suffix="/as_2d")
    return node.apply(nn.Squeeze(2), [node.apply(layer, [x])], suffix="/as_1d")


@ONNX.register("MaxPool", since=1)
def max_pool(node: OnnxNode):
    kernel, strides, dilations, p = _window(node)
    with_indices = len(node.outputs) > 1 and bool(node.outputs[1])
    x = None
    if p is None:  # auto_pad SAME with a stride on sizes known at run time: pad with -inf per call
        if with_indices:
            raise node.error("the Indices output needs static pads (auto_pad SAME on run-time sizes pads per call)")
        n = len(node.attr("kernel_shape"))
        x = same_padded(node, node.value(0), kernel[-n:], strides[-n:], dilations[-n:], value=-np.inf)
        p = [0, 0, 0, 0]
    ceil_mode = bool(node.attr("ceil_mode", 0))
    values = _pool(node, MaxPool2d(kernel, strides, p, dilations, ceil_mode=ceil_mode), x)
    if not with_indices:
        return values
    if len(node.attr("kernel_shape", [])) != 2:
        raise node.error("the Indices output is supported for 2-D pooling only")
    indices = node.apply(nn.MaxPoolIndices(kernel, strides, p, dilations, ceil_mode,
                                           int(node.attr("storage_order", 0))), [node.value(0)], suffix="/indices")
    return [values, indices]


@ONNX.register("AveragePool", since=1)
def average_pool(node: OnnxNode):
    kernel, strides, dilations, p = _window(node)
    if p is None:
        raise node.error("auto_pad SAME average pooling with a stride needs static spatial input dimensions "
                         "(the padded pixels are left out of each average)")
    if set(dilations) != {1}:
        raise node.error(f"dilated average pooling (dilations={dilations}) is not supported")
    return _pool(node, AvgPool2d(kernel, strides, p, ceil_mode=bool(node.attr("ceil_mode", 0)),
                                 count_include_pad=bool(node.attr("count_include_pad", 0))))


@ONNX.register("LpPool", since=2)
def lp_pool(node: OnnxNode):
    """``(sum over the window of |x| ** p) ** (1 / p)``: Abs, Pow, a padding-counting AvgPool times the window
    size, Pow."""
    kernel, strides, dilations, p = _window(node)
    if p is None:
        raise node.error("auto_pad SAME Lp pooling with a stride needs static spatial input dimensions")
    if set(dilations) != {1}:
        raise node.error(f"dilated Lp pooling (dilations={dilations}) is not supported")
    power = float(node.attr("p", 2))
    magnitude = node.apply(nn.Abs(), [node.value(0)], suffix="/abs")
    powered = node.apply(nn.Pow(power), [magnitude], suffix="/pow")
    mean = _pool(node, AvgPool2d(kernel, strides, p, ceil_mode=bool(node.attr("ceil_mode", 0)),
                                 count_include_pad=True), powered)
    total = node.apply(nn.Mul(), [mean, np.asarray(kernel[0] * kernel[1], np.float32)], suffix="/sum")
    return node.apply(nn.Pow(1.0 / power), [total])


@ONNX.register("MaxUnpool", since=9)
def max_unpool(node: OnnxNode):
    kernel = [int(k) for k in node.attr("kernel_shape")]
    output_shape = node.const(2, "output_shape")
    layer = nn.MaxUnpool(kernel, node.attr("strides"), node.attr("pads"),
                         None if output_shape is None else [int(d) for d in np.asarray(output_shape).reshape(-1)])
    return node.apply(layer, [node.value(0), node.value(1)])


def _global(node: OnnxNode, cls, reduce):
    """A 2-D global pool on (N, C, H, W); any other rank reduces every axis after C (keeping them)."""
    rank = node.rank(0)
    if rank is not None and rank != 4:
        if rank < 3:
            raise node.error(f"the input must be (N, C, ...) with at least one spatial axis, it has rank {rank}")
        return node.apply(reduce(list(range(2, rank)), keepdim=True), [node.value(0)])
    return node.apply(cls(), [node.value(0)])


@ONNX.register("GlobalAveragePool", since=1)
def global_average_pool(node: OnnxNode):
    return _global(node, GlobalAvgPool2d, nn.ReduceMean)


@ONNX.register("GlobalMaxPool", since=1)
def global_max_pool(node: OnnxNode):
    return _global(node, GlobalMaxPool2d, nn.ReduceMax)
