"""The emitter registry, keyed by layer class, and the walk over Sequential and Graph containers.

An emitter turns one of our layers into ONNX nodes::

    @emits(ReLU)
    def relu(ctx, layer, inputs, output, name):
        return ctx.one("Relu", [inputs[0].name], name)

It gets the :class:`ExportContext`, the layer, its input :class:`Value` s, the
sample output our layer computed for them (for static shapes) and the node's
scoped name (``block1.conv1``, also the prefix of its initializers), and
returns the ONNX name of its output (a list of names for a multi-output layer).
Containers are walked here: their children become nodes named by their path.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ...nn.blocked_segment import BlockedSegment
from ...nn.graph import Graph
from ...nn.module import Module
from ...nn.sequential import Sequential
from .context import ExportContext, Value

Emitter = Callable[[ExportContext, Any, list[Value], Any, str], "str | list[str]"]

#: layer class -> emitter (subclasses inherit their base's emitter unless registered themselves)
EMITTERS: dict[type, Emitter] = {}
#: layer class -> why it has no ONNX emitter (every layer class is in EMITTERS or here: a test checks it)
NO_EMITTER: dict[type, str] = {}


class UnexportableLayerError(TypeError):
    """A layer that the ONNX exporter cannot express; the message names the layer and its type."""


def emits(*classes: type) -> Callable[[Emitter], Emitter]:
    """Register the decorated function as the emitter of ``classes``."""

    def register(fn: Emitter) -> Emitter:
        for cls in classes:
            EMITTERS[cls] = fn
        return fn

    return register


def no_emitter(cls: type, reason: str) -> None:
    """Declare that layers of ``cls`` have no ONNX equivalent, and why (the exporter's error says it)."""
    NO_EMITTER[cls] = reason


def emitter_for(layer: Module, name: str) -> Emitter:
    """The emitter of ``layer``'s class (or the nearest registered base); a clear error if none."""
    for cls in type(layer).__mro__:
        if cls in EMITTERS:
            return EMITTERS[cls]
        if cls in NO_EMITTER:
            raise UnexportableLayerError(f"ONNX export: layer '{name}' of type {type(layer).__name__} cannot be "
                                         f"exported: {NO_EMITTER[cls]}")
    known = sorted({c.__name__ for c in EMITTERS} | {"Sequential", "Graph"})
    raise UnexportableLayerError(
        f"ONNX export: layer '{name}' of type {type(layer).__name__} cannot be exported (no ONNX emitter for "
        f"{type(layer).__name__}); exportable layer types: {', '.join(known)}")


def by_class(table: dict[type, Any], layer: Module) -> Any:
    """``table``'s entry for ``layer``'s class or its nearest base in the table (for emitters shared by several ops)."""
    return next(table[cls] for cls in type(layer).__mro__ if cls in table)


def emit_module(ctx: ExportContext, layer: Module, inputs: list[Value], name: str) -> Value | list[Value]:
    """Emit ``layer`` applied to ``inputs`` under the scoped ``name``; returns its output value(s)."""
    if isinstance(layer, Sequential):
        return _emit_sequential(ctx, layer, inputs, name)
    if isinstance(layer, Graph):
        return _emit_graph(ctx, layer, inputs, name)
    if isinstance(layer, BlockedSegment):  # its layers, inline: the plan is how it runs, not what it computes
        return _emit_graph(ctx, layer.body, inputs, scoped(name, "body"))
    fn = emitter_for(layer, name)
    with np.errstate(all="ignore"):  # the trace's random sample may be outside a layer's domain (log, sqrt)
        sample, _ = layer.forward_pass(*[v.sample for v in inputs])  # nothing is kept on the layer
    try:
        names = fn(ctx, layer, inputs, sample, name)
    except UnexportableLayerError:
        raise
    except ValueError as err:
        raise UnexportableLayerError(f"ONNX export: layer '{name}' of type {type(layer).__name__}: {err}") from None
    if isinstance(sample, (tuple, list)):
        return [Value(n, s) for n, s in zip(names, sample)]
    return Value(names if isinstance(names, str) else names[0], sample)


def scoped(prefix: str, key: str) -> str:
    """The dotted path of a child (``state_dict`` style)."""
    return f"{prefix}.{key}" if prefix else key


def _emit_sequential(ctx: ExportContext, seq: Sequential, inputs: list[Value], name: str) -> Value | list[Value]:
    out: Value | list[Value] = inputs if len(inputs) != 1 else inputs[0]
    for i, (key, child) in enumerate(seq._modules.items()):
        args = inputs if i == 0 else (out if isinstance(out, list) else [out])
        out = emit_module(ctx, child, list(args), scoped(name, key))
    return out


def _emit_graph(ctx: ExportContext, graph: Graph, inputs: list[Value], name: str) -> Value | list[Value]:
    if len(inputs) != len(graph.input_names):
        raise ValueError(f"ONNX export: graph '{name or graph.describe()}' expects {len(graph.input_names)} "
                         f"input(s) {graph.input_names}, got {len(inputs)}")
    values: dict[int, Value | list[Value]] = {id(n): v for n, v in zip(graph.nodes, inputs)}
    for node in graph.nodes[len(inputs):]:
        args = [_select(values[id(src)], index, src.name) for src, index in node.inputs]
        if len(args) == 1 and isinstance(args[0], list):  # a multi-output value fed whole (e.g. Split -> Concat)
            args = args[0]
        values[id(node)] = emit_module(ctx, node.module, list(args), scoped(name, node.name))
    outs = [_select(values[id(src)], index, src.name) for src, index in graph.outputs]
    return outs[0] if len(outs) == 1 else list(outs)


def _select(value: Value | list[Value], index: int | None, source: str) -> Any:
    if index is None:
        return value
    if not isinstance(value, list):
        raise ValueError(f"ONNX export: node '{source}[{index}]' selects an output of a single-output node")
    return value[index]

