"""Reductions (Sum, Mean, Max, Min, Prod over axes), ArgMax / ArgMin and TopK."""
from __future__ import annotations

import numpy as np

from ....nn.layers import reduce as R
from ..context import ExportContext, Value
from ..dispatch import by_class, emits

_OPS = {R.ReduceSum: "ReduceSum", R.ReduceMean: "ReduceMean", R.ReduceMax: "ReduceMax", R.ReduceMin: "ReduceMin",
        R.ReduceProd: "ReduceProd"}


@emits(*_OPS)
def reduce(ctx: ExportContext, layer: R._Reduce, inputs: list[Value], output: np.ndarray, name: str) -> str:
    dims = [layer.dim] if isinstance(layer.dim, int) else layer.dim
    args = [inputs[0].name]
    if dims:  # None reduces every axis, [] none (noop_with_empty_axes)
        args.append(ctx.ints(f"{name}/axes", dims))
    return ctx.one(by_class(_OPS, layer), args, name, keepdims=int(layer.keepdim),
                   noop_with_empty_axes=1 if dims == [] else None)


@emits(R.ArgMax, R.ArgMin)
def arg_extreme(ctx: ExportContext, layer: R._ArgExtreme, inputs: list[Value], output: np.ndarray, name: str) -> str:
    op = "ArgMax" if isinstance(layer, R.ArgMax) else "ArgMin"
    return ctx.one(op, [inputs[0].name], name, axis=layer.dim, keepdims=int(layer.keepdim),
                   select_last_index=int(layer.select_last_index))


@emits(R.TopK, R.TopKOf)
def topk(ctx: ExportContext, layer: R.TopK, inputs: list[Value], output: tuple[np.ndarray, ...],
         name: str) -> list[str]:
    if isinstance(layer, R.TopKOf):  # k computed in the graph: ONNX wants it as a 1-element int64 vector
        k = ctx.one("Reshape", [inputs[1].name, ctx.ints(f"{name}/k_shape", [1])], f"{name}/k")
    else:
        k = ctx.ints(f"{name}/k", [layer.k])
    return ctx.node("TopK", [inputs[0].name, k], name, n_outputs=2, axis=layer.dim,
                    largest=int(layer.largest), sorted=int(layer.sorted))
