"""PriorBox: its boxes depend only on the (static) feature-map and image sizes, so they are a constant.

DetectionOutput (decode + per-class NMS + top-k in Caffe's output layout) has no
ONNX counterpart here: cut the graph before it (``graph.new_graph(outputs=[loc, conf, priors])``).
NonMaxSuppression has no emitter yet.
"""
from __future__ import annotations

import numpy as np

from ....nn.layers.detection import DetectionOutput, NonMaxSuppression, PriorBox
from ..context import ExportContext, Value
from ..dispatch import emits, no_emitter

no_emitter(DetectionOutput, "Caffe's decode + per-class NMS + top-k has no ONNX counterpart here; cut the graph "
                            "before it (graph.new_graph(outputs=[loc, conf, priors])) and export that")
no_emitter(NonMaxSuppression, "no emitter for ONNX NonMaxSuppression has been written yet")


@emits(PriorBox)
def prior_box(ctx: ExportContext, layer: PriorBox, inputs: list[Value], output: np.ndarray, name: str) -> str:
    if np.shape(output)[0] != 1:
        raise ValueError(f"expected priors of shape (1, 2, P * 4), got {np.shape(output)}")
    return ctx.weight(f"{name}.priors", output)
