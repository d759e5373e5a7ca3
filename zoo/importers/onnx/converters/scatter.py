"""Element-wise gathers and scatters: GatherElements, ScatterElements (and the old Scatter), GatherND, ScatterND."""
from __future__ import annotations

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


def _inputs(node: OnnxNode) -> list:
    return [node.value(i) for i in range(node.n_inputs())]


@ONNX.register("GatherElements", since=11)
def gather_elements(node: OnnxNode):
    return node.apply(nn.GatherElements(int(node.attr("axis", 0))), _inputs(node))


@ONNX.register("Scatter", since=9)
@ONNX.register("ScatterElements", since=11)
def scatter_elements(node: OnnxNode):
    layer = nn.ScatterElements(int(node.attr("axis", 0)), node.attr("reduction", "none"))
    return node.apply(layer, _inputs(node))


@ONNX.register("GatherND", since=11)
def gather_nd(node: OnnxNode):
    return node.apply(nn.GatherND(int(node.attr("batch_dims", 0))), _inputs(node))


@ONNX.register("ScatterND", since=11)
def scatter_nd(node: OnnxNode):
    return node.apply(nn.ScatterND(node.attr("reduction", "none")), _inputs(node))
