"""GridSample (opset 16's bilinear/bicubic names included)."""
from __future__ import annotations

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX

#: opset 16 spelled the modes as torch does
_MODES = {"bilinear": "linear", "bicubic": "cubic"}


@ONNX.register("GridSample", since=16)
def grid_sample(node: OnnxNode):
    mode = str(node.attr("mode", "linear" if node.ctx.opset >= 20 else "bilinear"))
    layer = nn.GridSample(_MODES.get(mode, mode), node.attr("padding_mode", "zeros"),
                          bool(node.attr("align_corners", 0)))
    return node.apply(layer, [node.value(0), node.value(1)])
