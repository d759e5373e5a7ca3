"""Sub-graphs of control-flow nodes (If branches, Loop and Scan bodies) built as Graphs of their own.

A sub-graph may read values of the enclosing graphs by name. Those that are constants
stay constants inside (and fold there); those computed at run time become extra inputs
of the sub-graph, passed in by the control-flow layer after its own inputs.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import onnx

from bigdl_runtime.nn import Graph, Input

from .builder import convert_graph
from .context import OnnxNode, Sym
from .reader import value_info
from ..registry import UnsupportedOperatorError


def _subgraphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    graphs = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            graphs.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            graphs.extend(a.graphs)
    return graphs


def free_names(graph: onnx.GraphProto) -> list[str]:
    """Names that ``graph`` (nested sub-graphs included) reads but does not define, in order of first use."""
    defined = {t.name for t in graph.initializer} | {vi.name for vi in graph.input}
    free: list[str] = []

    def use(name: str) -> None:
        if name and name not in defined and name not in free:
            free.append(name)

    for node in graph.node:
        for name in node.input:
            use(name)
        for sub in _subgraphs(node):
            for name in free_names(sub):
                use(name)
        defined.update(node.output)
    for vi in graph.output:
        use(vi.name)
    return free


def outer_values(node: OnnxNode, graphs: Sequence[onnx.GraphProto]) -> list[str]:
    """The run-time (not constant) outer values that any of ``graphs`` reads, by name."""
    names: list[str] = []
    for graph in graphs:
        for name in free_names(graph):
            if name not in names and isinstance(node.ctx.lookup(name, node), Sym):
                names.append(name)
    return names


def build(node: OnnxNode, graph: onnx.GraphProto, leading: Sequence[tuple[str, tuple | None, Any]],
          outer: Sequence[str], what: str) -> Graph:
    """``graph`` as a Graph taking ``leading`` inputs (name, shape, dtype), then the ``outer`` run-time values.

    Raises:
        OnnxImportError: naming ``node`` and ``what`` when the sub-graph cannot be converted
            (UnsupportedOperatorError for an operator without a converter).
    """
    inputs = [Input(name) for name, _, _ in leading] + [Input(name) for name in outer]
    ctx = node.ctx.child(inputs[0])
    for inp, (name, shape, dtype) in zip(inputs, leading):
        ctx.values[name] = Sym(inp, shape, dtype)
        ctx.input_specs[name] = (shape, dtype)
    for inp, name in zip(inputs[len(leading):], outer):
        value = node.ctx.lookup(name, node)
        shape = value.shape if value.shape is not None else node.ctx.probe_shape(value)
        ctx.values[name] = Sym(inp, shape, value.dtype)
        ctx.input_specs[name] = (shape, value.dtype)
    for name in free_names(graph):
        if name not in ctx.values:
            ctx.values[name] = node.ctx.lookup(name, node)  # a constant of an enclosing graph
    try:
        outs = convert_graph(graph, ctx)
        ctx.release_probes()
        nodes = [ctx.node_of(v, f"{node.name}/{what}/{vi.name}") for v, vi in zip(outs, graph.output)]
        return Graph(inputs, nodes, name=f"{node.name}/{what}")
    except UnsupportedOperatorError as err:  # keeps its type: the caller may look for it
        raise UnsupportedOperatorError(f"{node.where}: {what}: {err}") from None
    except ValueError as err:  # an OnnxImportError of a node inside, or a Graph that cannot be built
        raise node.error(f"{what}: {err}") from None


def declared(node: OnnxNode, graph: onnx.GraphProto,
             fallbacks: Sequence[Any]) -> list[tuple[str, tuple | None, Any]]:
    """(name, shape, dtype) of each input ``graph`` declares (a Loop or Scan body's).

    Where the body leaves a shape or dtype undeclared, that of the matching entry of
    ``fallbacks`` is used: a value (array or run-time value, e.g. a loop-carried initial value)
    or a ``(shape, dtype)`` pair, or None for nothing known.
    """
    specs = []
    for vi, fallback in zip(graph.input, [*fallbacks, *[None] * len(graph.input)]):
        shape, dtype = value_info(vi)
        if isinstance(fallback, Sym):
            fallback = (fallback.shape if fallback.shape is not None else node.ctx.probe_shape(fallback),
                        fallback.dtype)
        elif fallback is not None and not isinstance(fallback, tuple):
            fallback = (np.shape(fallback), np.asarray(fallback).dtype)
        if fallback is not None:
            shape = fallback[0] if shape is None else shape
            dtype = fallback[1] if dtype is None else dtype
        specs.append((vi.name, shape, dtype))
    return specs
