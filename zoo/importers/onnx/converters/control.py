"""If with a condition known at import time: the chosen branch's nodes are inlined, the other dropped."""
from __future__ import annotations

import numpy as np

from ..context import OnnxNode
from ..registry import ONNX


@ONNX.register("If", since=1)
def if_(node: OnnxNode):
    cond = node.const(0, "cond")
    if np.size(cond) != 1:
        raise node.error(f"the condition must be a single value, got shape {np.shape(cond)}")
    branch = node.attr("then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch")
    outs = node.ctx.convert_graph(branch, node.ctx)
    if len(outs) != len(node.outputs):
        raise node.error(f"the chosen branch has {len(outs)} outputs, the node {len(node.outputs)}")
    return outs
