"""The pieces MobileNetV2 and EfficientNet-Lite share: convolution + batch norm + ReLU6, the inverted
residual (MBConv) block, and the pooled classifier head with its named cut points.

Every convolution has no bias and is followed by a batch norm; the depthwise convolution of a block
has ``groups == channels`` (run by oneDNN where its wheel is installed). Padding is a callable
``(kernel, stride) -> padding`` so one block serves PyTorch-style symmetric padding (MobileNetV2)
and TensorFlow's ``"SAME"`` padding (EfficientNet-Lite, :func:`tf_same_padding`).

Layer names are flat, e.g. ``block3_expand_conv``, ``block3_dw_bn``, ``block3_project_conv``,
``block3_add``; the head is ``head_conv``, ``head_bn``, then the cut points
``feature_map`` ``(N, C, H/32, W/32)`` -> ``pool`` ``(N, C, 1, 1)`` -> ``features`` ``(N, C)`` ->
``dropout`` -> ``fc``.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

from bigdl_runtime.nn import Node, init
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.dropout import Dropout
from bigdl_runtime.nn.layers.elementwise import Add
from bigdl_runtime.nn.layers.linear import Linear
from bigdl_runtime.nn.layers.math import ReLU6
from bigdl_runtime.nn.layers.norm import BatchNorm2d
from bigdl_runtime.nn.layers.pool import GlobalAvgPool2d
from bigdl_runtime.nn.layers.shape import Flatten

#: ``(kernel, stride) -> Conv2d padding`` (an int, or (top, left, bottom, right))
Padding = Callable[[int, int], "int | list[int]"]


def symmetric_padding(kernel: int, stride: int) -> int:
    """PyTorch's ``(kernel - 1) // 2`` on every side (torchvision's MobileNetV2)."""
    return (kernel - 1) // 2


def tf_same_padding(size: int) -> Padding:
    """TensorFlow's ``"SAME"`` padding for a square input of ``size`` pixels at the layer.

    Output ``ceil(size / stride)``; the total padding ``max((out - 1) * stride + kernel - size, 0)``
    is split with the odd pixel at the bottom/right (for a 3x3/2 convolution on an even size:
    0 before, 1 after). This is what the source's ``Conv2dStaticSamePadding`` computes for the
    model's image size.
    """
    def padding(kernel: int, stride: int) -> list[int]:
        out = math.ceil(size / stride)
        total = max((out - 1) * stride + kernel - size, 0)
        before, after = total // 2, total - total // 2
        return [before, before, after, after]

    return padding


def conv_bn(x: Node, cin: int, cout: int, kernel: int, stride: int, name: str, padding: Padding,
            groups: int = 1, act: bool = True, eps: float = 1e-5, momentum: float = 0.1) -> Node:
    """``Conv2d(bias=False) -> BatchNorm2d (-> ReLU6)``, named ``{name}_conv``, ``{name}_bn``, ``{name}_relu``.

    The convolution starts with He (fan-out) normal weights, as torchvision's MobileNetV2.
    """
    conv = Conv2d(cin, cout, kernel, stride=stride, padding=padding(kernel, stride), groups=groups,
                  bias=False, name=f"{name}_conv")
    fan_out = cout // groups * kernel * kernel
    conv.weight.data[...] = init.normal(conv.weight.data.shape, 0.0, math.sqrt(2.0 / fan_out))
    y = BatchNorm2d(cout, eps=eps, momentum=momentum, name=f"{name}_bn")(conv(x))
    return ReLU6(name=f"{name}_relu")(y) if act else y


def inverted_residual(x: Node, cin: int, cout: int, kernel: int, stride: int, expand: int, name: str,
                      padding: Padding, eps: float = 1e-5, momentum: float = 0.1) -> Node:
    """MobileNetV2's inverted residual (EfficientNet's MBConv without squeeze-excitation).

    ``1x1 expand (if expand != 1) -> kxk depthwise -> 1x1 linear projection``, each with batch norm,
    ReLU6 after the first two; the input is added back when ``stride == 1 and cin == cout``.
    """
    hidden = int(round(cin * expand))
    h = x
    if expand != 1:
        h = conv_bn(h, cin, hidden, 1, 1, f"{name}_expand", padding, eps=eps, momentum=momentum)
    h = conv_bn(h, hidden, hidden, kernel, stride, f"{name}_dw", padding, groups=hidden, eps=eps, momentum=momentum)
    h = conv_bn(h, hidden, cout, 1, 1, f"{name}_project", padding, act=False, eps=eps, momentum=momentum)
    return Add(name=f"{name}_add")(h, x) if stride == 1 and cin == cout else h


def classifier_head(x: Node, cin: int, channels: int, num_classes: int, include_top: bool, dropout: float,
                    padding: Padding, eps: float = 1e-5, momentum: float = 0.1) -> Node:
    """``1x1 conv to channels -> BN -> ReLU6`` (node ``feature_map``), global average pool (``pool``),
    flatten (``features``), and with ``include_top`` ``dropout`` and the linear layer ``fc``."""
    h = conv_bn(x, cin, channels, 1, 1, "head", padding, act=False, eps=eps, momentum=momentum)
    h = ReLU6(name="feature_map")(h)
    h = Flatten(name="features")(GlobalAvgPool2d(name="pool")(h))
    if not include_top:
        return h
    fc = Linear(channels, num_classes, name="fc")
    fc.weight.data[...] = init.normal(fc.weight.data.shape, 0.0, 0.01)  # torchvision's init
    fc.bias.data[...] = 0.0
    return fc(Dropout(dropout, name="dropout")(h))


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round channels to a multiple of ``divisor``, never more than 10% down (TF/torchvision ``_make_divisible``)."""
    min_value = divisor if min_value is None else min_value
    new = max(min_value, int(value + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * value else new


#: the names every network of this module can be cut at (see the module doc)
CUT_POINTS: Sequence[str] = ("feature_map", "pool", "features")
