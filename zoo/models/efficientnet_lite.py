"""EfficientNet-Lite (Tan & Le, 2019; the TensorFlow ``efficientnet/lite`` variants), exactly as the
``efficientnet_lite_pytorch`` 0.1.0 package builds it (a port of ``efficientnet_lite_builder.py``).

EfficientNet-B0's MBConv stages without squeeze-excitation, ReLU6 instead of swish, and a stem (32
channels) and head (1280 channels) that are not scaled: a 3x3/2 convolution, seven stages of inverted
residual blocks ``(repeats, kernel, stride, expansion, in, out)`` = ``(1,3,1,1,32,16) (2,3,2,6,16,24)
(2,5,2,6,24,40) (3,3,2,6,40,80) (3,5,1,6,80,112) (4,5,2,6,112,192) (1,3,1,6,192,320)`` (widths scaled
by the variant's width coefficient, repeats of the inner five stages by its depth coefficient), a
1x1 convolution to 1280 channels, global average pooling, dropout and a linear classifier. Batch
norm eps 1e-3 and momentum 0.01 (TensorFlow's 0.99). Convolutions use TensorFlow's ``"SAME"``
padding computed for the variant's image size, as the source's static-padding convolutions (a 3x3/2
convolution on 224 pixels pads 0 before and 1 after). The source's drop-connect (stochastic depth)
during training is not reproduced: training here runs the blocks without it.

Input ``(N, 3, S, S)`` RGB, ``(pixels - 127) / 128`` (TensorFlow's EfficientNet-Lite preprocessing);
``S`` = 224 (lite0), 240, 260, 280, 300 (lite4). Cut points ``feature_map``, ``pool``, ``features``
as in :mod:`zoo.models.mbconv`.

Examples:
    >>> efficientnet_lite0().num_parameters()
    4652008
"""
from __future__ import annotations

import math
import os
from typing import Union

from bigdl_runtime.nn import Graph, Input

from .mbconv import classifier_head, conv_bn, inverted_residual, make_divisible, tf_same_padding
from .weights import apply_weights

Weights = Union[str, os.PathLike, None]

#: variant -> (width coefficient, depth coefficient, image size, dropout), from efficientnet_lite_builder.py
VARIANTS = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 280, 0.3),
            4: (1.4, 1.8, 300, 0.3)}
#: (repeats, kernel, stride, expansion, input channels, output channels) of each stage, before scaling
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
#: the catalog model ``weights="pretrained"`` loads, per variant
PRETRAINED = {0: "efficientnet-lite0-imagenet"}
#: TensorFlow's batch norm settings of the source (momentum as PyTorch counts it: 1 - 0.99)
BN_EPS, BN_MOMENTUM = 1e-3, 0.01


def efficientnet_lite(variant: int, num_classes: int = 1000, include_top: bool = True,
                      weights: Weights = None, image_size: int | None = None) -> Graph:
    """EfficientNet-Lite``variant`` (0-4), see the module doc.

    Args:
        variant: 0, 1, 2, 3 or 4.
        num_classes: outputs of the classifier.
        include_top: end with dropout and the linear classifier; else with the pooled ``(N, 1280)`` features.
        weights: None, ``"pretrained"`` (lite0: the catalog's ImageNet weights) or a model file path.
        image_size: the input size the ``"SAME"`` paddings are computed for (default: the variant's);
            inputs whose size has the same parity at every stride-2 layer get the same padding.

    Returns:
        a Graph from ``(N, 3, S, S)`` to ``(N, num_classes)`` logits.
    """
    if variant not in VARIANTS:
        raise ValueError(f"EfficientNet-Lite: variant must be one of {sorted(VARIANTS)}, got {variant}")
    width, depth, size, dropout = VARIANTS[variant]
    size = int(image_size or size)
    bn = {"eps": BN_EPS, "momentum": BN_MOMENTUM}
    x = Input(name="image")
    h = conv_bn(x, 3, 32, 3, 2, "stem", tf_same_padding(size), **bn)
    size = math.ceil(size / 2)
    block, last = 1, len(STAGES) - 1
    for stage, (repeats, kernel, stride, expand, cin, cout) in enumerate(STAGES):
        cin = 32 if stage == 0 else make_divisible(cin * width)
        cout = make_divisible(cout * width)
        repeats = repeats if stage in (0, last) else int(math.ceil(depth * repeats))
        for i in range(repeats):
            s = stride if i == 0 else 1
            h = inverted_residual(h, cin, cout, kernel, s, expand, f"block{block}", tf_same_padding(size), **bn)
            size, cin, block = math.ceil(size / s), cout, block + 1
    out = classifier_head(h, cin, 1280, num_classes, include_top, dropout, tf_same_padding(size), **bn)
    model = Graph(x, out, name=f"efficientnet_lite{variant}")
    fits = num_classes == 1000 or not include_top
    return apply_weights(model, weights, PRETRAINED.get(variant) if fits else None, f"efficientnet_lite{variant}")


def efficientnet_lite0(num_classes: int = 1000, weights: Weights = None, include_top: bool = True) -> Graph:
    """EfficientNet-Lite0, 224x224 input (4,652,008 parameters with 1000 classes); see :func:`efficientnet_lite`."""
    return efficientnet_lite(0, num_classes, include_top, weights)


def efficientnet_lite1(num_classes: int = 1000, weights: Weights = None, include_top: bool = True) -> Graph:
    """EfficientNet-Lite1, 240x240 input; see :func:`efficientnet_lite`."""
    return efficientnet_lite(1, num_classes, include_top, weights)


def efficientnet_lite2(num_classes: int = 1000, weights: Weights = None, include_top: bool = True) -> Graph:
    """EfficientNet-Lite2, 260x260 input; see :func:`efficientnet_lite`."""
    return efficientnet_lite(2, num_classes, include_top, weights)
