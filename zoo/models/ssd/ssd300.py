"""SSD300 on VGG-16 (Liu et al. 2016, the Caffe ``ssd_pascal`` model).

VGG-16's convolutions with pool3 in ceil mode (75 -> 38) and pool5 as a 3x3/1 pool,
fc6/fc7 as convolutions (fc6 3x3 with dilation 6), conv4_3 L2-normalised per position
with a learned per-channel scale (initially 20), and the extra layers conv6..conv9. Six
source maps (38, 19, 10, 5, 3, 1) with 4, 6, 6, 6, 4, 4 priors per cell: 8732 priors.
With 21 classes (PASCAL VOC) it has 26,285,486 parameters.

Input: ``(N, 3, 300, 300)`` BGR, mean-subtracted (Caffe's ``104, 117, 123``), not scaled.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bigdl_runtime.nn import Graph, Input, Node
from bigdl_runtime.nn.layers.activation import ReLU
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.l2norm import Normalize
from bigdl_runtime.nn.layers.pool import MaxPool2d

from ..weights import apply_weights
from .heads import multibox_graph
from .priors import SSD300_SOURCES

IMAGE_SIZE = 300
#: Caffe SSD's per-channel mean, BGR order
MEAN_BGR = (104.0, 117.0, 123.0)


def preprocess(images: np.ndarray) -> np.ndarray:
    """``uint8`` RGB images ``(N, 300, 300, 3)`` -> float32 BGR ``(N, 3, 300, 300)`` minus the mean."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 3):
        raise ValueError(f"ssd300 expects RGB images (N, 300, 300, 3), got {images.shape}")
    bgr = images[..., ::-1].astype(np.float32) - np.asarray(MEAN_BGR, np.float32)
    return np.ascontiguousarray(bgr.transpose(0, 3, 1, 2))


def _conv(x: Node, cin: int, cout: int, name: str, kernel: int = 3, **kwargs: Any) -> Node:
    padding = kwargs.pop("padding", kernel // 2)
    return ReLU(name=f"relu{name[4:]}")(Conv2d(cin, cout, kernel, padding=padding, name=name, **kwargs)(x))


def _vgg16(x: Node) -> tuple[Node, Node]:
    """VGG-16 up to fc7 with SSD's changes; returns (conv4_3 after ReLU, fc7 after ReLU)."""
    widths = [(1, [64, 64]), (2, [128, 128]), (3, [256, 256, 256]), (4, [512, 512, 512]), (5, [512, 512, 512])]
    cin, conv4_3 = 3, None
    for stage, outs in widths:
        for i, cout in enumerate(outs, start=1):
            x = _conv(x, cin, cout, f"conv{stage}_{i}")
            cin = cout
        if stage == 4:
            conv4_3 = x
        if stage < 5:
            x = MaxPool2d(2, stride=2, ceil_mode=(stage == 3), name=f"pool{stage}")(x)
    x = MaxPool2d(3, stride=1, padding=1, name="pool5")(x)
    x = ReLU(name="relu6")(Conv2d(512, 1024, 3, padding=6, dilation=6, name="fc6")(x))
    x = ReLU(name="relu7")(Conv2d(1024, 1024, 1, name="fc7")(x))
    return conv4_3, x


def ssd300(num_classes: int = 21, weights: str | None = None, detector: bool = False,
           detection: dict[str, Any] | None = None) -> Graph:
    """SSD300 with a VGG-16 backbone.

    Args:
        num_classes: classes including the background (21 for PASCAL VOC).
        weights: None (random initialisation) or a model file path with the same parameter
            names (no pretrained SSD300 ships: training it needs far more than two cores).
        detector: end with PriorBox/Softmax/DetectionOutput, outputting ``(1, 1, K, 7)`` rows
            ``(image, label, score, xmin, ymin, xmax, ymax)``; otherwise ``(N, 8732, 4 + num_classes)``.
        detection: DetectionOutput settings overriding :data:`~zoo.models.ssd.heads.DETECTION_DEFAULTS`.

    Shape:
        - input: ``(N, 3, 300, 300)`` float32, see :func:`preprocess`
        - output: ``(N, 8732, 4 + num_classes)`` (training) or ``(1, 1, K, 7)`` (detector)

    Examples:
        >>> model = ssd300(num_classes=21)
        >>> model.num_parameters()
        26285486
    """
    image = Input(name="image")
    conv4_3, fc7 = _vgg16(image)
    norm = Normalize(512, across_spatial=False, channel_shared=False, init=20.0, name="conv4_3_norm")(conv4_3)
    x = _conv(fc7, 1024, 256, "conv6_1", kernel=1)
    conv6_2 = _conv(x, 256, 512, "conv6_2", stride=2, padding=1)
    x = _conv(conv6_2, 512, 128, "conv7_1", kernel=1)
    conv7_2 = _conv(x, 128, 256, "conv7_2", stride=2, padding=1)
    x = _conv(conv7_2, 256, 128, "conv8_1", kernel=1)
    conv8_2 = _conv(x, 128, 256, "conv8_2", padding=0)
    x = _conv(conv8_2, 256, 128, "conv9_1", kernel=1)
    conv9_2 = _conv(x, 128, 256, "conv9_2", padding=0)
    sources = [("conv4_3_norm", norm, 512), ("fc7", fc7, 1024), ("conv6_2", conv6_2, 512),
               ("conv7_2", conv7_2, 256), ("conv8_2", conv8_2, 256), ("conv9_2", conv9_2, 256)]
    model = multibox_graph(image, sources, SSD300_SOURCES, num_classes, IMAGE_SIZE, detector, detection,
                           name="ssd300")
    return apply_weights(model, weights, None, "ssd300")
