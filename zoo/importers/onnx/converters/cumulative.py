"""Running sums and products: CumSum, CumProd (the axis is an input, needed at import time)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


#: op -> (layer, the first version)
_SCANS = {"CumSum": (nn.CumSum, 11), "CumProd": (nn.CumProd, 26)}


def _scan(node: OnnxNode):
    axis = int(np.asarray(node.const(1, "axis")).reshape(-1)[0])
    layer = _SCANS[node.op_type][0](axis, bool(node.attr("exclusive", 0)), bool(node.attr("reverse", 0)))
    return node.apply(layer, [node.value(0)])


for _op, (_cls, _since) in _SCANS.items():
    ONNX.register(_op, since=_since)(_scan)
