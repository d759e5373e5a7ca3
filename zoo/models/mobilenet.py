"""MobileNetV2 (Sandler et al., 2018), exactly as torchvision's ``mobilenet_v2``.

A 3x3/2 convolution to 32 channels, 17 inverted residual blocks (expansion t, output channels c,
repeats n, first stride s: ``(1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2)
(6,320,1,1)``), a 1x1 convolution to 1280 channels, global average pooling, dropout 0.2 and a
linear classifier. ReLU6 everywhere except after the projections; batch norm eps 1e-5; padding
``(k - 1) // 2``. 3,504,872 parameters with 1000 classes.

Input ``(N, 3, 224, 224)`` RGB scaled to [0, 1] and normalised with the ImageNet mean
``(0.485, 0.456, 0.406)`` and std ``(0.229, 0.224, 0.225)`` (the catalog's
``mobilenet-v2-imagenet`` card: resize the shorter side to 256, centre crop 224). Cut points:
``feature_map`` (N, 1280, 7, 7), ``pool``, ``features`` (N, 1280); see :mod:`zoo.models.mbconv`.

Examples:
    >>> net = mobilenet_v2()
    >>> net.num_parameters()
    3504872
    >>> backbone = mobilenet_v2(weights="pretrained", include_top=False)   # (N, 1280) features
"""
from __future__ import annotations

import os
from typing import Union

from bigdl_runtime.nn import Graph, Input

from .mbconv import classifier_head, conv_bn, inverted_residual, make_divisible, symmetric_padding
from .weights import apply_weights

Weights = Union[str, os.PathLike, None]

#: the catalog model ``weights="pretrained"`` loads (1000 ImageNet classes, width 1.0)
PRETRAINED = "mobilenet-v2-imagenet"

#: (expansion t, output channels c, repeats n, first stride s) of each stage (the paper's Table 2)
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
          (6, 320, 1, 1))


def mobilenet_v2(num_classes: int = 1000, weights: Weights = None, include_top: bool = True,
                 width_mult: float = 1.0, dropout: float = 0.2) -> Graph:
    """MobileNetV2 (see the module doc).

    Args:
        num_classes: outputs of the classifier.
        weights: None (He initialisation), ``"pretrained"`` (the catalog's ImageNet weights; 1000 classes,
            or any ``num_classes`` with ``include_top=False``) or a model file path with the same names.
        include_top: end with dropout and the linear classifier; else with the pooled ``(N, 1280)`` features.
        width_mult: channel multiplier (channels rounded to multiples of 8, as torchvision).
        dropout: dropout probability before the classifier.

    Returns:
        a Graph from ``(N, 3, H, W)`` to ``(N, num_classes)`` logits.
    """
    x = Input(name="image")
    cin = make_divisible(32 * width_mult)
    h = conv_bn(x, 3, cin, 3, 2, "stem", symmetric_padding)
    block = 1
    for t, c, n, s in STAGES:
        cout = make_divisible(c * width_mult)
        for i in range(n):
            h = inverted_residual(h, cin, cout, 3, s if i == 0 else 1, t, f"block{block}", symmetric_padding)
            cin, block = cout, block + 1
    last = make_divisible(1280 * max(1.0, width_mult))
    out = classifier_head(h, cin, last, num_classes, include_top, dropout, symmetric_padding)
    model = Graph(x, out, name="mobilenet_v2")
    fits = width_mult == 1.0 and (num_classes == 1000 or not include_top)
    return apply_weights(model, weights, PRETRAINED if fits else None, "mobilenet_v2")
