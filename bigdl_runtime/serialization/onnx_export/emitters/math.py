"""Pointwise math: unary functions, Pow, Clip / ReLU6, variadic Max / Min / Mean, Where,
comparisons and logic (boolean outputs)."""
from __future__ import annotations

import numpy as np

from ....nn.layers import math as M
from ..context import ExportContext, Value
from ..dispatch import by_class, emits

_ONE_OP = {M.Sqrt: "Sqrt", M.Exp: "Exp", M.Log: "Log", M.Neg: "Neg", M.Abs: "Abs", M.Reciprocal: "Reciprocal",
           M.Erf: "Erf", M.Maximum: "Max", M.Minimum: "Min", M.Average: "Mean", M.Where: "Where",
           M.Equal: "Equal", M.Less: "Less", M.Greater: "Greater", M.LessOrEqual: "LessOrEqual",
           M.GreaterOrEqual: "GreaterOrEqual", M.LogicalNot: "Not", M.LogicalAnd: "And", M.LogicalOr: "Or",
           M.LogicalXor: "Xor"}


@emits(*_ONE_OP)
def one_op(ctx: ExportContext, layer: object, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one(by_class(_ONE_OP, layer), [v.name for v in inputs], name)


@emits(M.Pow)
def power(ctx: ExportContext, layer: M.Pow, inputs: list[Value], output: np.ndarray, name: str) -> str:
    if layer.exponent is None:
        return ctx.one("Pow", [inputs[0].name, inputs[1].name], name)
    return ctx.one("Pow", [inputs[0].name, ctx.scalar(f"{name}.exponent", layer.exponent)], name)


@emits(M.Clip, M.ReLU6)
def clip(ctx: ExportContext, layer: M.Clip, inputs: list[Value], output: np.ndarray, name: str) -> str:
    low = "" if layer.min is None else ctx.scalar(f"{name}.min", layer.min)
    high = "" if layer.max is None else ctx.scalar(f"{name}.max", layer.max)
    return ctx.one("Clip", [inputs[0].name, low, high], name)
