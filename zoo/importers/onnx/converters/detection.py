"""NonMaxSuppression (the thresholds, when constant, become the layer's config) and RoiAlign."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


def _scalar(node: OnnxNode, i: int, cast, default):
    value = node.const(i, ["boxes", "scores", "max_output_boxes_per_class", "iou_threshold", "score_threshold"][i])
    return default if value is None or np.size(value) == 0 else cast(np.asarray(value).reshape(-1)[0])


@ONNX.register("NonMaxSuppression", since=10)
def non_max_suppression(node: OnnxNode):
    layer = nn.NonMaxSuppression(center_point_box=int(node.attr("center_point_box", 0)),
                                 max_output_boxes_per_class=_scalar(node, 2, int, 0),
                                 iou_threshold=_scalar(node, 3, float, 0.0),
                                 score_threshold=_scalar(node, 4, float, None))
    return node.apply(layer, [node.value(0), node.value(1)])


@ONNX.register("RoiAlign", since=10)
def roi_align(node: OnnxNode):
    """``coordinate_transformation_mode`` came in opset 16 (default half_pixel); before, regions were not shifted."""
    default = "half_pixel" if node.ctx.opset >= 16 else "output_half_pixel"
    layer = nn.RoiAlign(int(node.attr("output_height", 1)), int(node.attr("output_width", 1)),
                        int(node.attr("sampling_ratio", 0)), float(node.attr("spatial_scale", 1.0)),
                        node.attr("mode", "avg"), node.attr("coordinate_transformation_mode", default) == "half_pixel")
    return node.apply(layer, [node.value(0), node.value(1), node.value(2)])
