"""Linear algebra: Det."""
from __future__ import annotations

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


@ONNX.register("Det", since=11)
def det(node: OnnxNode):
    return node.apply(nn.Det(), [node.value(0)])
