"""A small SSD for grey images, sized to train on two CPU cores (the ``ssd-mini-shapes`` model).

Backbone: six 3x3 convolution blocks with batch norm (strided convolutions and one 2x max
pool) and a last 3x3 convolution; four source maps, 12x12, 6x6, 3x3 and 1x1 for the 96x96
input, six priors per cell (squares ``min`` and ``sqrt(min * max)``, ratios 2, 1/2, 3, 1/3):
1140 priors for objects of about 20 to 96 pixels.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from bigdl_runtime.nn import Graph, Input, Node
from bigdl_runtime.nn.layers.activation import ReLU
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.norm import BatchNorm2d
from bigdl_runtime.nn.layers.pool import MaxPool2d

from ..weights import apply_weights
from .heads import multibox_graph
from .priors import SourceSpec

#: the catalog model ``weights="pretrained"`` loads
PRETRAINED = "ssd-mini-shapes"
#: input side in pixels
IMAGE_SIZE = 96
#: prior layout: object sides of about 20 to 96 pixels on the 96x96 canvas
MINI_SOURCES = (SourceSpec(12, 20, 32, (2.0, 3.0), 8), SourceSpec(6, 32, 48, (2.0, 3.0), 16),
                SourceSpec(3, 48, 72, (2.0, 3.0), 32), SourceSpec(1, 72, 96, (2.0, 3.0), 96))
#: the number of priors of :data:`MINI_SOURCES`
NUM_PRIORS = 1140
#: pixels (0..255, grey) -> network input
MEAN, STD = 127.5, 127.5


def preprocess(images: np.ndarray) -> np.ndarray:
    """``uint8`` grey images ``(N, 96, 96)`` -> float32 ``(N, 1, 96, 96)`` in [-1, 1]."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"ssd_mini expects grey images (N, {IMAGE_SIZE}, {IMAGE_SIZE}), got {images.shape}")
    return (images.astype(np.float32) - np.float32(MEAN)) / np.float32(STD)


def _block(x: Node, cin: int, cout: int, name: str, stride: int = 1) -> Node:
    y = Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False, name=name)(x)
    return ReLU(name=f"{name}_relu")(BatchNorm2d(cout, name=f"{name}_bn")(y))


def ssd_mini(num_classes: int = 8, weights: str | None = None, detector: bool = False,
             detection: dict[str, Any] | None = None) -> Graph:
    """The small SSD: grey ``96x96`` input, ``num_classes`` classes including the background.

    Args:
        num_classes: classes with the background as label 0 (8 for ``ssd-mini-shapes``).
        weights: None, ``"pretrained"`` (the catalog's ``ssd-mini-shapes``) or a model file path.
        detector: end with PriorBox/DetectionOutput (outputs ``(1, 1, K, 7)`` detections)
            instead of the raw ``(N, 1140, 4 + num_classes)`` predictions used for training.
        detection: DetectionOutput settings overriding :data:`~zoo.models.ssd.heads.DETECTION_DEFAULTS`.

    Shape:
        - input: ``(N, 1, 96, 96)`` float32, see :func:`preprocess`
        - output: ``(N, 1140, 4 + num_classes)`` or, as a detector, ``(1, 1, K, 7)`` rows
          ``(image, label, score, xmin, ymin, xmax, ymax)`` in [0, 1] coordinates

    Examples:
        >>> model = ssd_mini()
        >>> model(np.zeros((2, 1, 96, 96), np.float32)).shape
        (2, 1140, 12)
    """
    image = Input(name="image")
    x = _block(image, 1, 16, "conv1", stride=2)                          # 48 x 48
    x = _block(x, 16, 32, "conv2", stride=2)                             # 24 x 24
    x = MaxPool2d(2, name="pool3")(_block(x, 32, 64, "conv3"))           # 12 x 12
    s1 = _block(x, 64, 64, "conv4")                                      # source 1: 12 x 12
    s2 = _block(s1, 64, 96, "conv5", stride=2)                           # source 2: 6 x 6
    s3 = _block(s2, 96, 128, "conv6", stride=2)                          # source 3: 3 x 3
    s4 = ReLU(name="conv7_relu")(Conv2d(128, 128, 3, name="conv7")(s3))  # source 4: 1 x 1
    sources = [("conv4", s1, 64), ("conv5", s2, 96), ("conv6", s3, 128), ("conv7", s4, 128)]
    model = multibox_graph(image, sources, MINI_SOURCES,
                           num_classes, IMAGE_SIZE, detector, detection, name="ssd_mini")
    pretrained = PRETRAINED if num_classes == 8 else None
    return apply_weights(model, weights, pretrained, "ssd_mini")
