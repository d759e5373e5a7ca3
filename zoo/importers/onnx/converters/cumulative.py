"""Running sums and products: CumSum, CumProd (the axis is an input, needed at import time)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


def _scan(node: OnnxNode, cls):
    axis = int(np.asarray(node.const(1, "axis")).reshape(-1)[0])
    layer = cls(axis, bool(node.attr("exclusive", 0)), bool(node.attr("reverse", 0)))
    return node.apply(layer, [node.value(0)])


@ONNX.register("CumSum", since=11)
def cumsum(node: OnnxNode):
    return _scan(node, nn.CumSum)


@ONNX.register("CumProd", since=26)
def cumprod(node: OnnxNode):
    return _scan(node, nn.CumProd)
