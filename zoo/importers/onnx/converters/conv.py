"""Conv and ConvTranspose (1-D and 2-D) onto Conv1d, Conv2d and ConvTranspose2d with the ONNX weights."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn import Conv1d, Conv2d, ConvTranspose2d

from ..context import OnnxNode
from ..registry import ONNX
from .spatial import ints, pads, same_padded, spatial_dims


def _weights(node: OnnxNode) -> tuple[np.ndarray, np.ndarray | None]:
    w = node.const(1, "W (the weights)")
    b = node.const(2, "B (the bias)")
    if w.ndim not in (3, 4):
        raise node.error(f"only 1-D and 2-D convolutions are supported; the weight has shape {w.shape}")
    kernel = node.attr("kernel_shape")
    if kernel is not None and [int(k) for k in kernel] != list(w.shape[2:]):
        raise node.error(f"kernel_shape {kernel} does not match the weight's shape {w.shape}")
    return w, b


def _load(layer, w: np.ndarray, b: np.ndarray | None):
    layer.weight.data[...] = w
    if b is not None:
        layer.bias.data[...] = b
    return layer


@ONNX.register("Conv", since=1)
def conv(node: OnnxNode):
    w, b = _weights(node)
    n = w.ndim - 2
    group = int(node.attr("group", 1))
    kernel = list(w.shape[2:])
    strides, dilations = ints(node, "strides", n, 1), ints(node, "dilations", n, 1)
    p = pads(node, kernel, strides, dilations)
    x = node.value(0)
    if p is None:  # auto_pad SAME with a stride on sizes known at run time: pad per call
        x, p = same_padded(node, x, kernel, strides, dilations), [0] * (2 * n)
    cls = Conv2d if n == 2 else Conv1d
    args = dict(stride=strides, padding=p, dilation=dilations) if n == 2 else \
        dict(stride=strides[0], padding=p, dilation=dilations[0])
    layer = cls(w.shape[1] * group, w.shape[0], kernel if n == 2 else kernel[0], groups=group,
                bias=b is not None, **args)
    y = node.apply(_load(layer, w, b), [x])
    if y.shape is None:  # the weight gives the rank even when the input's shape is not declared
        y.shape = (None, w.shape[0]) + (None,) * n
    return y


@ONNX.register("ConvTranspose", since=1)
def conv_transpose(node: OnnxNode):
    """2-D, or 1-D run as 2-D over a unit H axis; ``output_shape`` and auto_pad SAME give the pads."""
    w, b = _weights(node)
    n = w.ndim - 2
    group = int(node.attr("group", 1))
    kernel = list(w.shape[2:])
    strides, dilations = ints(node, "strides", n, 1), ints(node, "dilations", n, 1)
    out_pad = ints(node, "output_padding", n, 0)
    output_shape = node.attr("output_shape")
    auto = node.attr("auto_pad", "NOTSET")
    if output_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        sizes = spatial_dims(node)
        targets = [int(v) for v in output_shape[-n:]] if output_shape is not None else \
            [size * s for size, s in zip(sizes, strides)]
        begin, end = [], []
        for i, (size, k, s, d, t) in enumerate(zip(sizes, kernel, strides, dilations, targets)):
            total = s * (size - 1) + out_pad[i] + (k - 1) * d + 1 - t
            if total < 0:  # the output grows past the full result: extra zeros at the end
                out_pad[i] -= total
                total = 0
            small, large = total // 2, total - total // 2
            upper = auto == "SAME_UPPER"
            begin.append(small if upper else large)
            end.append(large if upper else small)
        p = begin + end
    elif auto == "VALID":
        p = [0] * (2 * n)
    else:
        p = pads(node, kernel, strides, dilations)
    if n == 1:  # lift to 2-D: a unit H axis
        kernel, strides, dilations, out_pad = [1, *kernel], [1, *strides], [1, *dilations], [0, *out_pad]
        p = [0, p[0], 0, p[1]]
        w = w.reshape(w.shape[0], w.shape[1], 1, w.shape[2])
    try:
        layer = ConvTranspose2d(w.shape[0], w.shape[1] * group, kernel, stride=strides, padding=p,
                                output_padding=out_pad, groups=group, bias=b is not None, dilation=dilations)
    except ValueError as err:
        raise node.error(str(err)) from None
    layer = _load(layer, w, b)
    x = node.value(0)
    if n == 2:
        return node.apply(layer, [x])
    x = node.apply(nn.Unsqueeze(2), [x], suffix="/as_2d")
    return node.apply(nn.Squeeze(2), [node.apply(layer, [x])], suffix="/as_1d")
