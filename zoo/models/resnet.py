"""ResNet (He et al., 2016): the ImageNet layout (18/34/50/101/152) and the CIFAR layout (20/32/44/56).

ImageNet layout (paper Table 1, as torchvision's v1.5: the stride of a
bottleneck sits on its 3x3 convolution): a 7x7/2 convolution, 3x3/2 max pooling,
four stages of basic (18, 34) or bottleneck (50, 101, 152) blocks with 64, 128,
256, 512 base channels, global average pooling and a fully connected layer.
Input ``(N, 3, 224, 224)`` RGB scaled to [0, 1] and normalised with the ImageNet
mean ``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)``; any size >= 32 works.

CIFAR layout (paper section 4.2): a 3x3 convolution with 16 channels, three
stages of ``n`` basic blocks with 16, 32, 64 channels (depth ``6n + 2``), global
average pooling and a fully connected layer; when a stage halves the size, the
shortcut is option A of the paper (subsample by 2 and zero-pad the new channels,
no parameters). Input ``(N, in_channels, 32, 32)`` (28 x 28 works too).

Every convolution is followed by batch normalisation and has no bias. Layer
names are flat (``layer2_0_conv1``, ``layer2_0_downsample_bn``, ``fc``), so
``model.freeze(...)`` and ``model.new_graph(outputs=["avgpool"])`` address them.

Examples:
    >>> net = resnet50()
    >>> net.num_parameters()
    25557032
    >>> small = resnet20(num_classes=10, in_channels=1)
    >>> small.forward(np.zeros((2, 1, 28, 28), np.float32)).shape
    (2, 10)
"""
from __future__ import annotations

import math
import os
from typing import Union

from bigdl_runtime.nn import Graph, Input, Node, init
from bigdl_runtime.nn.layers.activation import ReLU
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.elementwise import Add
from bigdl_runtime.nn.layers.linear import Linear
from bigdl_runtime.nn.layers.norm import BatchNorm2d
from bigdl_runtime.nn.layers.pad import Pad
from bigdl_runtime.nn.layers.pool import GlobalAvgPool2d, MaxPool2d
from bigdl_runtime.nn.layers.shape import Flatten

from .weights import apply_weights

#: what the ``weights=`` argument accepts (see :mod:`zoo.models.weights`)
Weights = Union[str, os.PathLike, None]

#: depth -> (block kind, blocks per stage) of the ImageNet layout
IMAGENET_DEPTHS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
                   101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}
#: ImageNet preprocessing of the ImageNet layout (RGB on the [0, 1] scale)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _conv_bn(x: Node, cin: int, cout: int, k: int, stride: int, name: str, relu: bool = True) -> Node:
    conv = Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False, name=f"{name}conv")
    # He (fan-out) initialisation, as the paper and torchvision
    conv.weight.data[...] = init.normal(conv.weight.data.shape, 0.0, math.sqrt(2.0 / (cout * k * k)))
    y = BatchNorm2d(cout, name=f"{name}bn")(conv(x))
    return ReLU(name=f"{name}relu")(y) if relu else y


def _basic(x: Node, cin: int, cout: int, stride: int, name: str, shortcut: str) -> Node:
    h = _conv_bn(x, cin, cout, 3, stride, f"{name}_1")
    h = _conv_bn(h, cout, cout, 3, 1, f"{name}_2", relu=False)
    return ReLU(name=f"{name}_out")(Add(name=f"{name}_add")(h, _shortcut(x, cin, cout, stride, name, shortcut)))


def _bottleneck(x: Node, cin: int, width: int, stride: int, name: str, shortcut: str) -> Node:
    cout = width * 4
    h = _conv_bn(x, cin, width, 1, 1, f"{name}_1")
    h = _conv_bn(h, width, width, 3, stride, f"{name}_2")
    h = _conv_bn(h, width, cout, 1, 1, f"{name}_3", relu=False)
    return ReLU(name=f"{name}_out")(Add(name=f"{name}_add")(h, _shortcut(x, cin, cout, stride, name, shortcut)))


def _shortcut(x: Node, cin: int, cout: int, stride: int, name: str, kind: str) -> Node:
    if stride == 1 and cin == cout:
        return x
    if kind == "projection":  # option B: 1x1 convolution + batch norm
        return _conv_bn(x, cin, cout, 1, stride, f"{name}_down", relu=False)
    # option A: take every stride-th pixel, zero-pad the extra channels on both sides
    extra = cout - cin
    y = MaxPool2d(1, stride=stride, name=f"{name}_subsample")(x) if stride > 1 else x
    return Pad([0, extra // 2, 0, 0, 0, extra - extra // 2, 0, 0], name=f"{name}_padchannels")(y)


def _head(x: Node, channels: int, num_classes: int, include_top: bool) -> Node:
    x = Flatten(name="flatten")(GlobalAvgPool2d(name="avgpool")(x))
    return Linear(channels, num_classes, name="fc")(x) if include_top else x


def resnet_imagenet(depth: int, num_classes: int = 1000, in_channels: int = 3, include_top: bool = True,
                    weights: Weights = None) -> Graph:
    """ResNet-``depth`` in the ImageNet layout (see the module doc for input and preprocessing).

    Args:
        depth: 18, 34, 50, 101 or 152.
        num_classes: outputs of the last layer.
        in_channels: channels of the input image.
        include_top: end with the fully connected layer; else with the pooled
            ``(N, 512)`` (basic) or ``(N, 2048)`` (bottleneck) features.
        weights: None (He initialisation), ``"pretrained"`` (none shipped for this
            layout) or a model file path with the same parameter names.

    Returns:
        a :class:`~bigdl_runtime.nn.Graph` from ``(N, in_channels, H, W)`` to ``(N, num_classes)`` logits.
    """
    if depth not in IMAGENET_DEPTHS:
        raise ValueError(f"ResNet ImageNet layout: depth must be one of {sorted(IMAGENET_DEPTHS)}, got {depth}")
    kind, counts = IMAGENET_DEPTHS[depth]
    block, expansion = (_basic, 1) if kind == "basic" else (_bottleneck, 4)
    x = Input(name="image")
    h = _conv_bn(x, in_channels, 64, 7, 2, "stem_")
    h = MaxPool2d(3, stride=2, padding=1, name="maxpool")(h)
    cin = 64
    for stage, (width, n) in enumerate(zip((64, 128, 256, 512), counts), start=1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            h = block(h, cin, width, stride, f"layer{stage}_{i}", "projection")
            cin = width * expansion
    model = Graph(x, _head(h, cin, num_classes, include_top), name=f"resnet{depth}")
    return apply_weights(model, weights, None, f"resnet{depth}")


def resnet_cifar(depth: int, num_classes: int = 10, in_channels: int = 3, include_top: bool = True,
                 weights: Weights = None) -> Graph:
    """ResNet-``depth`` in the CIFAR layout, ``depth = 6n + 2`` (see the module doc).

    Args:
        depth: 20, 32, 44, 56, 110, ... (any ``6n + 2``).
        num_classes: outputs of the last layer.
        in_channels: channels of the input image (1 for Fashion-MNIST).
        include_top: end with the fully connected layer; else with the pooled ``(N, 64)`` features.
        weights: None, ``"pretrained"`` (ResNet-20 with 1 input channel and 10
            classes: the catalog's ``resnet20-fashion-mnist``) or a model file path.
    """
    if depth < 8 or (depth - 2) % 6:
        raise ValueError(f"ResNet CIFAR layout: depth must be 6n + 2 (20, 32, 44, 56, ...), got {depth}")
    n = (depth - 2) // 6
    x = Input(name="image")
    h = _conv_bn(x, in_channels, 16, 3, 1, "stem_")
    cin = 16
    for stage, width in enumerate((16, 32, 64), start=1):
        for i in range(n):
            stride = 2 if stage > 1 and i == 0 else 1
            h = _basic(h, cin, width, stride, f"layer{stage}_{i}", "zero_pad")
            cin = width
    model = Graph(x, _head(h, cin, num_classes, include_top), name=f"resnet{depth}")
    fits = depth == 20 and in_channels == 1 and (num_classes == 10 or not include_top)
    return apply_weights(model, weights, "resnet20-fashion-mnist" if fits else None, f"resnet{depth}")


def resnet18(num_classes: int = 1000, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-18, ImageNet layout (11,689,512 parameters with 1000 classes); see :func:`resnet_imagenet`."""
    return resnet_imagenet(18, num_classes, in_channels, include_top, weights)


def resnet34(num_classes: int = 1000, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-34, ImageNet layout (21,797,672 parameters with 1000 classes); see :func:`resnet_imagenet`."""
    return resnet_imagenet(34, num_classes, in_channels, include_top, weights)


def resnet50(num_classes: int = 1000, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-50, ImageNet layout (25,557,032 parameters with 1000 classes); see :func:`resnet_imagenet`."""
    return resnet_imagenet(50, num_classes, in_channels, include_top, weights)


def resnet101(num_classes: int = 1000, weights: Weights = None, include_top: bool = True,
              in_channels: int = 3) -> Graph:
    """ResNet-101, ImageNet layout (44,549,160 parameters with 1000 classes); see :func:`resnet_imagenet`."""
    return resnet_imagenet(101, num_classes, in_channels, include_top, weights)


def resnet152(num_classes: int = 1000, weights: Weights = None, include_top: bool = True,
              in_channels: int = 3) -> Graph:
    """ResNet-152, ImageNet layout (60,192,808 parameters with 1000 classes); see :func:`resnet_imagenet`."""
    return resnet_imagenet(152, num_classes, in_channels, include_top, weights)


def resnet20(num_classes: int = 10, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-20, CIFAR layout (0.27M parameters); see :func:`resnet_cifar`."""
    return resnet_cifar(20, num_classes, in_channels, include_top, weights)


def resnet32(num_classes: int = 10, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-32, CIFAR layout (0.46M parameters); see :func:`resnet_cifar`."""
    return resnet_cifar(32, num_classes, in_channels, include_top, weights)


def resnet44(num_classes: int = 10, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-44, CIFAR layout (0.66M parameters); see :func:`resnet_cifar`."""
    return resnet_cifar(44, num_classes, in_channels, include_top, weights)


def resnet56(num_classes: int = 10, weights: Weights = None, include_top: bool = True, in_channels: int = 3) -> Graph:
    """ResNet-56, CIFAR layout (0.85M parameters); see :func:`resnet_cifar`."""
    return resnet_cifar(56, num_classes, in_channels, include_top, weights)
