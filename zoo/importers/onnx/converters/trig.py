"""Trigonometric and hyperbolic functions: Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh."""
from __future__ import annotations

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX

# op -> (layer, the first version)
_TABLE = {"Sin": (nn.Sin, 7), "Cos": (nn.Cos, 7), "Tan": (nn.Tan, 7), "Asin": (nn.Asin, 7), "Acos": (nn.Acos, 7),
          "Atan": (nn.Atan, 7), "Sinh": (nn.Sinh, 9), "Cosh": (nn.Cosh, 9), "Asinh": (nn.Asinh, 9),
          "Acosh": (nn.Acosh, 9), "Atanh": (nn.Atanh, 9)}


def _unary(node: OnnxNode):
    return node.apply(_TABLE[node.op_type][0](), [node.value(0)])


for _op, (_cls, _since) in _TABLE.items():
    ONNX.register(_op, since=_since)(_unary)
