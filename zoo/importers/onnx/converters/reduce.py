"""Reductions: ReduceSum/Mean/Max/Min/Prod, ArgMax/ArgMin, TopK.

``axes`` is an attribute up to opset 12 (ReduceSum) or 17 (the others) and an input
from then on; ``keepdims`` defaults to 1 and an empty ``axes`` reduces everything
unless ``noop_with_empty_axes`` is set.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX

#: op -> (layer, the opset from which axes is an input)
_REDUCE = {"ReduceSum": (nn.ReduceSum, 13), "ReduceMean": (nn.ReduceMean, 18), "ReduceMax": (nn.ReduceMax, 18),
           "ReduceMin": (nn.ReduceMin, 18), "ReduceProd": (nn.ReduceProd, 18)}


def _reduce(node: OnnxNode):
    cls, axes_input = _REDUCE[node.op_type]
    if node.ctx.opset >= axes_input:
        axes = node.const(1, "axes")
    else:
        axes = node.attr("axes")
    keepdims = bool(node.attr("keepdims", 1))
    if axes is None or np.size(axes) == 0:
        dim = [] if int(node.attr("noop_with_empty_axes", 0)) else None
    else:
        dim = [int(a) for a in np.asarray(axes).reshape(-1)]
    return node.apply(cls(dim, keepdim=keepdims), [node.value(0)])


for _op in _REDUCE:
    ONNX.register(_op, since=1)(_reduce)
    ONNX.register(_op, since=_REDUCE[_op][1])(_reduce)


def _arg(node: OnnxNode, cls):
    layer = cls(int(node.attr("axis", 0)), keepdim=bool(node.attr("keepdims", 1)),
                select_last_index=bool(node.attr("select_last_index", 0)))
    return node.apply(layer, [node.value(0)])


@ONNX.register("ArgMax", since=1)
def argmax(node: OnnxNode):
    return _arg(node, nn.ArgMax)


@ONNX.register("ArgMin", since=1)
def argmin(node: OnnxNode):
    return _arg(node, nn.ArgMin)


@ONNX.register("TopK", since=1)
def topk(node: OnnxNode):
    options = dict(largest=bool(node.attr("largest", 1)), sorted=bool(node.attr("sorted", 1)))
    if node.ctx.opset >= 10 and isinstance(node.value(1), Sym):  # K computed per call (e.g. min(k, boxes))
        return list(node.apply(nn.TopKOf(int(node.attr("axis", -1)), **options), [node.value(0), node.value(1)],
                               n_outputs=2))
    k = int(node.attr("k")) if node.ctx.opset < 10 else int(np.asarray(node.const(1, "K")).reshape(-1)[0])
    layer = nn.TopK(k, int(node.attr("axis", -1)), **options)
    return list(node.apply(layer, [node.value(0)], n_outputs=2))
