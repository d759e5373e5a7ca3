"""SSD's multibox heads and the optional Caffe-style detection tail, on any backbone graph.

Every source feature map gets a 3x3 convolution predicting 4 box offsets per prior
(``<source>_mbox_loc``) and one 3x3 convolution predicting ``num_classes`` scores per
prior (``<source>_mbox_conf``). Their outputs are moved to channels-last and flattened
so prior ``p`` of the concatenation is prior ``p`` of
:func:`zoo.models.ssd.priors.make_priors`.

The training graph outputs ``(N, P, 4 + num_classes)``: box offsets, then class logits
(what :class:`zoo.models.ssd.loss.MultiBoxLoss` takes). The detector graph adds, as
Caffe's SSD deploy network, one PriorBox per source, a softmax over the classes and
DetectionOutput, and outputs ``(1, 1, K, 7)`` detections; its parameters are the same,
so a trained model's ``state_dict`` loads into it.
"""
from __future__ import annotations

from typing import Any, Sequence

from bigdl_runtime.nn import Graph, Node
from bigdl_runtime.nn.layers.conv import Conv2d
from bigdl_runtime.nn.layers.detection import DetectionOutput, PriorBox
from bigdl_runtime.nn.layers.activation import Softmax
from bigdl_runtime.nn.layers.shape import Concat, Reshape, Transpose

from .priors import SourceSpec

#: DetectionOutput settings of the detector graphs (Caffe ssd_pascal.py's test settings).
DETECTION_DEFAULTS = {"nms_threshold": 0.45, "top_k": 400, "keep_top_k": 200, "confidence_threshold": 0.01}


def _flat(node: Node, width: int, name: str) -> Node:
    """``(N, P_cell * width, H, W)`` -> ``(N, H * W * P_cell, width)``."""
    return Reshape([-1, width], name=f"{name}_flat")(Transpose([0, 2, 3, 1], name=f"{name}_perm")(node))


def multibox_graph(image: Node, sources: Sequence[tuple[str, Node, int]], specs: Sequence[SourceSpec],
                   num_classes: int, image_size: int, detector: bool = False,
                   detection: dict[str, Any] | None = None, name: str = "ssd") -> Graph:
    """Attach the multibox heads (and, with ``detector``, the detection tail) to a backbone.

    Args:
        image: the graph's input node.
        sources: ``(name, node, channels)`` of each source feature map, in prior order.
        specs: the prior layout of each source (same order).
        num_classes: classes including the background (label 0).
        image_size: the (square) input side in pixels.
        detector: end with PriorBox/Softmax/DetectionOutput instead of the raw predictions.
        detection: DetectionOutput keyword arguments overriding :data:`DETECTION_DEFAULTS`.
        name: the graph's name.

    Returns:
        the Graph (training: ``(N, P, 4 + num_classes)``; detector: ``(1, 1, K, 7)``).
    """
    if len(sources) != len(specs):
        raise ValueError(f"{name}: {len(sources)} source feature maps but {len(specs)} prior specs")
    locs, confs, priors = [], [], []
    for (src_name, node, channels), spec in zip(sources, specs):
        per_cell = spec.priors_per_cell
        loc = Conv2d(channels, per_cell * 4, 3, padding=1, name=f"{src_name}_mbox_loc")(node)
        conf = Conv2d(channels, per_cell * num_classes, 3, padding=1, name=f"{src_name}_mbox_conf")(node)
        locs.append(_flat(loc, 4, f"{src_name}_mbox_loc"))
        confs.append(_flat(conf, num_classes, f"{src_name}_mbox_conf"))
        if detector:
            priors.append(PriorBox(**spec.prior_box_config(image_size), name=f"{src_name}_mbox_priorbox")(node))
    loc = Concat(dim=1, name="mbox_loc")(*locs)
    conf = Concat(dim=1, name="mbox_conf")(*confs)
    if not detector:
        return Graph(image, Concat(dim=2, name="mbox")(loc, conf), name=name)
    settings = {**DETECTION_DEFAULTS, **(detection or {})}
    prob = Softmax(dim=-1, name="mbox_conf_softmax")(conf)
    prior = Concat(dim=2, name="mbox_priorbox")(*priors)
    out = DetectionOutput(num_classes, name="detection_out", **settings)(loc, prob, prior)
    return Graph(image, out, name=f"{name}_detector")
