"""Add (any number of inputs), Sub, Mul and Div, with ONNX's numpy-style broadcasting."""
from __future__ import annotations

import numpy as np

from ....nn.layers import elementwise as E
from ..context import ExportContext, Value
from ..dispatch import by_class, emits

_BINARY = {E.Sub: "Sub", E.Mul: "Mul", E.Div: "Div"}


@emits(E.Add)
def add(ctx: ExportContext, layer: E.Add, inputs: list[Value], output: np.ndarray, name: str) -> str:
    names = [v.name for v in inputs]
    if len(names) == 1:
        return ctx.one("Identity", names, name)
    return ctx.one("Add" if len(names) == 2 else "Sum", names, name)


@emits(*_BINARY)
def binary(ctx: ExportContext, layer: E._Merge, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one(by_class(_BINARY, layer), [v.name for v in inputs], name)
