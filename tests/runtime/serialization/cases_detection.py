"""Round-trip cases for the detection layers (see test_every_layer_round_trip.py)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from bigdl_runtime.kernels.detection import prior_boxes
from bigdl_runtime.nn import Module, layers as L


def _detection_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """loc (1, 24) offsets, conf (1, 18) probabilities or priors (1, 2, 24) from a 2x3 map."""
    if shape == (1, 2, 24):
        return prior_boxes((2, 3), (20, 30), [9], variances=[0.1, 0.1, 0.2, 0.2])[None]
    if shape == (1, 18):
        return rng.dirichlet(np.ones(3), size=6).reshape(1, 18).astype(np.float32)
    return (rng.standard_normal(shape) * 0.5).astype(np.float32)


def _nms_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(0, 1, shape).astype(np.float32) * (10 if shape[-1] == 4 else 1)


# layer class name -> (factory, input shapes, input maker)
CASES: dict[str, tuple[Callable[[], Module], list[tuple[int, ...]], Callable]] = {
    "PriorBox": (lambda: L.PriorBox([4.0], [9.0], [2.0], clip=True, variances=[0.1, 0.2, 0.1, 0.2], step=(4, 5)),
                 [(1, 2, 3, 4), (1, 3, 12, 20)], _nms_inputs),
    "DetectionOutput": (lambda: L.DetectionOutput(3, nms_threshold=0.4, top_k=5, keep_top_k=4,
                                                  confidence_threshold=0.2, clip=True),
                        [(1, 24), (1, 18), (1, 2, 24)], _detection_inputs),
    "NonMaxSuppression": (lambda: L.NonMaxSuppression(1, max_output_boxes_per_class=3, iou_threshold=0.3,
                                                      score_threshold=0.1),
                          [(2, 8, 4), (2, 3, 8)], _nms_inputs),
}
