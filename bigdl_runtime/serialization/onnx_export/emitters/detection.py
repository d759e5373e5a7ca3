"""PriorBox: its boxes depend only on the (static) feature-map and image sizes, so they are a constant.

DetectionOutput (decode + per-class NMS + top-k in Caffe's output layout) has no
ONNX counterpart here: cut the graph before it (``graph.new_graph(outputs=[loc, conf, priors])``).
"""
from __future__ import annotations

import numpy as np

from ....nn.layers.detection import PriorBox
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(PriorBox)
def prior_box(ctx: ExportContext, layer: PriorBox, inputs: list[Value], output: np.ndarray, name: str) -> str:
    if np.shape(output)[0] != 1:
        raise ValueError(f"expected priors of shape (1, 2, P * 4), got {np.shape(output)}")
    return ctx.weight(f"{name}.priors", output)
