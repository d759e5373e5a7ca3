"""Elementwise arithmetic, math functions, comparisons and logic (numpy broadcasting, as ONNX from opset 7)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX


def _all(node: OnnxNode) -> list:
    return [node.value(i) for i in range(node.n_inputs())]


def _register(op: str, since: int, cls) -> None:
    def convert(node: OnnxNode):
        return node.apply(cls(), _all(node))
    convert.__name__ = op.lower()
    ONNX.register(op, since=since)(convert)


# op -> (layer, the first version with the semantics we implement)
_TABLE = {"Add": (nn.Add, 7), "Sub": (nn.Sub, 7), "Mul": (nn.Mul, 7), "Sum": (nn.Add, 6), "Max": (nn.Maximum, 6),
          "Min": (nn.Minimum, 6), "Mean": (nn.Average, 6), "Sqrt": (nn.Sqrt, 6), "Exp": (nn.Exp, 6),
          "Log": (nn.Log, 6), "Neg": (nn.Neg, 6), "Abs": (nn.Abs, 6), "Reciprocal": (nn.Reciprocal, 6),
          "Erf": (nn.Erf, 9), "Where": (nn.Where, 9), "Equal": (nn.Equal, 7), "Less": (nn.Less, 7),
          "Greater": (nn.Greater, 7), "LessOrEqual": (nn.LessOrEqual, 12), "GreaterOrEqual": (nn.GreaterOrEqual, 12),
          "Not": (nn.LogicalNot, 1), "And": (nn.LogicalAnd, 7), "Or": (nn.LogicalOr, 7), "Xor": (nn.LogicalXor, 7)}
for _op, (_cls, _since) in _TABLE.items():
    _register(_op, _since, _cls)


@ONNX.register("Div", since=7)
def div(node: OnnxNode):
    a, b = node.value(0), node.value(1)
    if not isinstance(a, Sym) and not isinstance(b, Sym) and np.issubdtype(np.asarray(a).dtype, np.integer):
        # integer division truncates toward zero in ONNX
        return (np.trunc(np.asarray(a) / np.asarray(b))).astype(np.asarray(a).dtype)
    dtype = a.dtype if isinstance(a, Sym) else np.asarray(a).dtype
    if dtype is not None and np.issubdtype(dtype, np.integer):
        # true division then a cast back, which truncates toward zero as ONNX's integer Div
        quotient = node.apply(nn.Div(), [a, b], suffix="/true_div")
        return node.apply(nn.Cast(np.dtype(dtype).name), [quotient])
    return node.apply(nn.Div(), [a, b])


@ONNX.register("Pow", since=7)
def pow_(node: OnnxNode):
    base, exponent = node.value(0), node.value(1)
    if not isinstance(exponent, Sym) and np.size(exponent) == 1 and isinstance(base, Sym):
        return node.apply(nn.Pow(float(np.asarray(exponent).reshape(-1)[0])), [base])
    return node.apply(nn.Pow(), [base, exponent])
