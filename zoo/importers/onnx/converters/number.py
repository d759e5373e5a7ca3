"""Number-level operators: Ceil, Floor, Round, Sign, Mod, IsNaN, IsInf, BitShift, BitwiseAnd/Or/Xor/Not, BitCast."""
from __future__ import annotations

import numpy as np
import onnx

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX

# op -> (layer maker, the first version)
_TABLE = {"Ceil": (lambda n: nn.Ceil(), 6), "Floor": (lambda n: nn.Floor(), 6), "Round": (lambda n: nn.Round(), 11),
          "Sign": (lambda n: nn.Sign(), 9), "Mod": (lambda n: nn.Mod(bool(n.attr("fmod", 0))), 10),
          "IsNaN": (lambda n: nn.IsNaN(), 9),
          "IsInf": (lambda n: nn.IsInf(bool(n.attr("detect_negative", 1)), bool(n.attr("detect_positive", 1))), 10),
          "BitShift": (lambda n: nn.BitShift(n.attr("direction")), 11),
          "BitwiseAnd": (lambda n: nn.BitwiseAnd(), 18), "BitwiseOr": (lambda n: nn.BitwiseOr(), 18),
          "BitwiseXor": (lambda n: nn.BitwiseXor(), 18), "BitwiseNot": (lambda n: nn.BitwiseNot(), 18),
          "BitCast": (lambda n: nn.BitCast(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(n.attr("to")))).name),
                      26)}


def _convert(node: OnnxNode):
    return node.apply(_TABLE[node.op_type][0](node), [node.value(i) for i in range(node.n_inputs())])


for _op, (_make, _since) in _TABLE.items():
    ONNX.register(_op, since=_since)(_convert)
