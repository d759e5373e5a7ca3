"""If, Loop and Scan. An If on a constant condition is inlined (the other branch dropped); otherwise
the branches or the body become sub-graphs of an IfElse, Loop or Scan layer that runs them per call."""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn.layers.control_flow import IfElse, Loop, Scan

from .. import subgraph
from ..context import OnnxNode, Sym
from ..registry import ONNX

#: trip count of a Loop without one (ONNX: run until the condition is false)
UNBOUNDED = np.iinfo(np.int64).max


@ONNX.register("If", since=1)
def if_(node: OnnxNode):
    cond = node.value(0)
    then_g, else_g = node.attr("then_branch"), node.attr("else_branch")
    if not isinstance(cond, Sym):
        if np.size(cond) != 1:
            raise node.error(f"the condition must be a single value, got shape {np.shape(cond)}")
        branch = then_g if bool(np.asarray(cond).reshape(-1)[0]) else else_g
        outs = node.ctx.convert_graph(branch, node.ctx)
        if len(outs) != len(node.outputs):
            raise node.error(f"the chosen branch has {len(outs)} outputs, the node {len(node.outputs)}")
        return outs
    outer = subgraph.outer_values(node, [then_g, else_g])
    anchor = [("__cond__", cond.shape, cond.dtype)]
    branches = [subgraph.build(node, g, anchor, outer, what) for g, what in ((then_g, "then"), (else_g, "else"))]
    try:
        layer = IfElse(*branches)
    except ValueError as err:
        raise node.error(str(err)) from None
    n_out = len(node.outputs)
    return node.apply(layer, [cond, *[node.ctx.lookup(n) for n in outer]], n_outputs=n_out)


@ONNX.register("Loop", since=1)
def loop(node: OnnxNode):
    body = node.attr("body")
    n_carried = max(node.n_inputs(), 2) - 2
    if len(body.input) != n_carried + 2:
        raise node.error(f"the body takes {len(body.input)} inputs; it must take the iteration number, the "
                         f"condition and the {n_carried} loop-carried values")
    trip = node.value(0) if node.given(0) else np.array(UNBOUNDED, np.int64)
    cond = node.value(1) if node.given(1) else np.array(True)
    carried = [node.value(i) for i in range(2, node.n_inputs())]
    outer = subgraph.outer_values(node, [body])
    leading = [((), np.dtype(np.int64)), ((), np.dtype(bool)), *carried]
    graph = subgraph.build(node, body, subgraph.declared(node, body, leading), outer, "body")
    n_out = len(node.outputs)
    if len(body.output) != n_out + 1:
        raise node.error(f"the body has {len(body.output)} outputs; the node needs its condition and {n_out}")
    return node.apply(Loop(graph, n_carried), [trip, cond, *carried, *[node.ctx.lookup(n) for n in outer]],
                      n_outputs=n_out)


@ONNX.register("Scan", since=9)
def scan(node: OnnxNode):
    body = node.attr("body")
    n_scan = int(node.attr("num_scan_inputs"))
    n_state = node.n_inputs() - n_scan
    n_out = len(node.outputs) - n_state
    if n_state < 0 or len(body.input) != n_state + n_scan or len(body.output) != n_state + n_out:
        raise node.error(f"the body's {len(body.input)} inputs and {len(body.output)} outputs do not match "
                         f"{node.n_inputs()} inputs ({n_scan} scanned) and {len(node.outputs)} outputs")
    outer = subgraph.outer_values(node, [body])
    axes = node.attr("scan_input_axes") or [0] * n_scan
    slices = [_slice_spec(node, n_state + k, int(axes[k])) for k in range(n_scan)]
    states = [node.value(i) for i in range(n_state)]
    graph = subgraph.build(node, body, subgraph.declared(node, body, [*states, *slices]), outer, "body")
    layer = Scan(graph, n_state, n_scan, node.attr("scan_input_axes"), node.attr("scan_input_directions"),
                 node.attr("scan_output_axes"), node.attr("scan_output_directions"))
    values = [node.value(i) for i in range(node.n_inputs())]
    return node.apply(layer, [*values, *[node.ctx.lookup(n) for n in outer]], n_outputs=len(node.outputs))


def _slice_spec(node: OnnxNode, i: int, axis: int) -> tuple[tuple | None, np.dtype | None]:
    """(shape, dtype) of one step's slice of scanned input ``i`` (the scanned axis removed)."""
    shape, value = node.shape(i), node.value(i)
    dtype = value.dtype if isinstance(value, Sym) else np.asarray(value).dtype
    if shape is None:
        return None, dtype
    axis = axis + len(shape) if axis < 0 else axis
    return tuple(d for a, d in enumerate(shape) if a != axis), dtype
