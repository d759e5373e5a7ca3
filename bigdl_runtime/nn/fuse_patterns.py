"""Inference-time rewrites of the elementwise patterns exporters write, into single layers that an inference
plan runs as post-ops (:mod:`.fuse` applies them before folding batch norms and cutting blocked segments).

Exporters spell activations and affine maps out in basic ops, each reading a constant held by a
:class:`~.layers.graph_values.TensorSource` node: Paddle writes a convolution's bias as ``Add(conv, b)`` and
hard-swish as ``x * Clip(x + 3, 0, 6) / 6``, PaddleOCR's learnable affine blocks are ``x * a + b``, tf2onnx
writes ``Maximum(LeakyReLU(x), c)``. Layer by layer each is a full pass over the activation (and a node that
breaks a run of plannable layers); rewritten they become:

- ``Add / Sub / Mul / Div(x, c)`` of a one-element constant -> ``Power(1, scale, shift)`` (oneDNN's ``linear``),
  and two such in a row -> one;
- ``Maximum / Minimum(x, c)`` of a one-element constant -> ``Clip(min=c)`` / ``Clip(max=c)``;
- ``Conv2d -> Add(c)`` of a per-channel constant ``(1, C, 1, 1)`` -> the convolution with that bias;
- ``x * ReLU6(x + 3) / 6`` (or ``* (1 / 6)``) and ``x * Hardsigmoid(x)`` of PyTorch's slope -> ``Hardswish``.

A rewrite applies only where each intermediate value has no other reader (nor is a graph output), and only on
values known to be 4-D float32 tensors (the output of a float32 convolution or batch norm, through
activations, poolings and products of such): there the rewritten layer computes the same numbers (up to
float rounding: ``x / 6`` becomes ``x * (1 / 6)``) with the same shape and dtype. The result is made of
ordinary layers, so it saves and exports like any model; constants are copied into the new layers (later
changes to the original's constants do not reach them).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .graph import Graph, Input, Node
from .layers.activation import Hardsigmoid, Hardswish, LeakyReLU, ReLU, Sigmoid, Tanh
from .layers.affine import Power
from .layers.conv import Conv2d
from .layers.elementwise import Add, Div, Mul, Sub
from .layers.graph_values import TensorSource
from .layers.math import Clip, Maximum, Minimum, ReLU6
from .layers.norm import BatchNorm2d
from .layers.pool import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .module import Module

#: layers whose output has the shape and dtype of their (first) input
_SAME_AS_INPUT = (ReLU, ReLU6, Clip, LeakyReLU, Hardswish, Hardsigmoid, Sigmoid, Tanh, Power)
#: layers whose 4-D float32 input gives a 4-D float32 output
_POOLS = (MaxPool2d, AvgPool2d, GlobalAvgPool2d)
#: merges whose 4-D float32 inputs (or float32 constants of at most 4 axes) give a 4-D float32 output
_MERGES = (Add, Sub, Mul, Div, Maximum, Minimum)


class _Scan:
    """What the rules know of the graph being rewritten: each old node's reader count (a graph output counts
    twice: never rewritten away), the rewritten nodes so far (by old node id), and which values are 4-D float32
    tensors whatever the inputs (:meth:`float32_4d`)."""

    def __init__(self, graph: Graph) -> None:
        self.readers: dict[int, int] = {}
        for n in graph.nodes:
            for s, _ in n.inputs:
                self.readers[id(s)] = self.readers.get(id(s), 0) + 1
        for s, _ in graph.outputs:
            self.readers[id(s)] = self.readers.get(id(s), 0) + 2
        self.new: dict[int, Node] = {}
        self._f32: dict[int, bool] = {}
        for n in graph.nodes:  # topological order: the inputs are known first
            self._f32[id(n)] = self._known_f32(n)

    def float32_4d(self, node: Node) -> bool:
        """Whether ``node``'s value is a 4-D float32 tensor: a float32 2-D convolution's or batch norm's output
        (ONNX gives their inputs their weights' type), or such values through layers that keep shape and dtype,
        poolings, and merges with float32 constants of at most 4 axes."""
        return self._f32.get(id(node), False)

    def _known_f32(self, node: Node) -> bool:
        module = node.module
        if module is None or any(i is not None for _, i in node.inputs):
            return False
        if isinstance(module, (Conv2d, BatchNorm2d)):
            params = [p.data for p in module.parameters()] + [getattr(module, "running_mean", None)]
            return all(p.dtype == np.float32 for p in params if p is not None)
        if type(module) in _SAME_AS_INPUT or type(module) in _POOLS:
            return len(node.inputs) == 1 and self.float32_4d(node.inputs[0][0])
        if type(module) in _MERGES:
            values = [self.float32_4d(s) for s, _ in node.inputs]
            return any(values) and all(v or _small_constant(s) for v, (s, _) in zip(values, node.inputs))
        return False


#: a rule: (old node, the scan) -> its replacement, or None
Rule = Callable[[Node, _Scan], "Node | None"]


def rewrite_patterns(graph: Graph) -> Graph:
    """``graph`` with the patterns of the module docstring rewritten (``graph`` itself when none is found)."""
    for rule in (_bias_into_conv, _constant_arithmetic, _merge_linear, _hardswish):
        graph = _apply(graph, rule)
    return graph


def _apply(graph: Graph, rule: Rule) -> Graph:
    scan = _Scan(graph)
    changed = False
    for n in graph.nodes:
        if n.module is None:
            scan.new[id(n)] = Input(n.name)
            continue
        made = rule(n, scan)
        changed |= made is not None
        scan.new[id(n)] = made or Node(n.module, [(scan.new[id(s)], i) for s, i in n.inputs], n.name)
    if not changed:
        return graph
    outputs = [scan.new[id(s)] if i is None else scan.new[id(s)][i] for s, i in graph.outputs]
    inputs = [scan.new[id(n)] for n in graph.nodes if n.module is None]
    rewritten = Graph(inputs, outputs if len(outputs) > 1 else outputs[0], name=graph.name)
    return rewritten.train() if graph.training else rewritten.evaluate()


def _constant(node: Node) -> np.ndarray | None:
    """The float32 value of a constant node, or None."""
    if isinstance(node.module, TensorSource) and node.module.dtype == "float32":
        return node.module._array()
    return None


def _small_constant(node: Node) -> bool:
    """Whether ``node`` is a float32 constant of at most 4 axes (merged with a 4-D float32 value, it gives one)."""
    value = _constant(node)
    return value is not None and value.ndim <= 4


def _scalar(node: Node) -> float | None:
    """The value of a one-element float32 constant of at most 4 axes (it broadcasts over a 4-D value without
    changing its shape), or None."""
    value = _constant(node)
    return float(value.reshape(-1)[0]) if value is not None and value.size == 1 and value.ndim <= 4 else None


def _operands(n: Node, scan: _Scan) -> tuple[Node, float, bool] | None:
    """``(x, c, c first)`` of a two-input node ``f(x, c)`` or ``f(c, x)`` with ``c`` a one-element constant and
    ``x`` a 4-D float32 value."""
    if len(n.inputs) != 2 or any(i is not None for _, i in n.inputs):
        return None
    (a, _), (b, _) = n.inputs
    for x, c, first in ((a, b, False), (b, a, True)):
        value = _scalar(c)
        if value is not None and scan.float32_4d(x):
            return x, value, first
    return None


def _constant_arithmetic(n: Node, scan: _Scan) -> Node | None:
    kind = type(n.module)
    if kind not in (Add, Sub, Mul, Div, Maximum, Minimum):
        return None
    found = _operands(n, scan)
    if found is None:
        return None
    x, c, first = found
    if kind is Add:
        layer = Power(1.0, 1.0, c)
    elif kind is Sub:
        layer = Power(1.0, -1.0, c) if first else Power(1.0, 1.0, -c)
    elif kind is Mul:
        layer = Power(1.0, c, 0.0)
    elif kind is Div:
        if first or c == 0.0:
            return None
        layer = Power(1.0, 1.0 / c, 0.0)
    else:
        layer = Clip(min=c) if kind is Maximum else Clip(max=c)
    return _node(layer, n, scan.new[id(x)])


def _bias_into_conv(n: Node, scan: _Scan) -> Node | None:
    if type(n.module) is not Add or len(n.inputs) != 2 or any(i is not None for _, i in n.inputs):
        return None
    for conv, const in (n.inputs[0][0], n.inputs[1][0]), (n.inputs[1][0], n.inputs[0][0]):
        value = _constant(const)
        if (type(conv.module) is Conv2d and scan.readers.get(id(conv)) == 1 and value is not None
                and conv.module.weight.data.dtype == np.float32
                and value.shape in ((conv.module.out_channels, 1, 1), (1, conv.module.out_channels, 1, 1))):
            old = conv.module
            fused = Conv2d.from_config(dict(old.get_config(), bias=True)).astype(np.float32)
            fused.weight.data[...] = old.weight.data
            fused.bias.data[...] = value.reshape(-1) + (0.0 if old.bias is None else old.bias.data)
            fused.weight.trainable = old.weight.trainable
            fused.name = old.name
            return Node(fused.evaluate(), scan.new[id(conv)].inputs, n.name)
    return None


def _linear(node: Node) -> tuple[float, float] | None:
    module = node.module
    return (module.scale, module.shift) if type(module) is Power and module.power == 1.0 else None


def _merge_linear(n: Node, scan: _Scan) -> Node | None:
    outer = _linear(n)
    if outer is None:
        return None
    inner_node = n.inputs[0][0]
    inner = _linear(inner_node)
    if inner is None or scan.readers.get(id(inner_node)) != 1:
        return None
    (a1, b1), (a2, b2) = inner, outer
    (source, index), = inner_node.inputs  # the inner map's input, whichever output of its node it is
    merged = _node(Power(1.0, a1 * a2, b1 * a2 + b2), n, scan.new[id(source)])
    return merged if index is None else Node(merged.module, [(scan.new[id(source)], index)], merged.name)


def _hardswish(n: Node, scan: _Scan) -> Node | None:
    """``x * ReLU6(x + 3) * (1 / 6)`` (the division already a Power) or ``x * Hardsigmoid(x)`` -> Hardswish."""
    scaled = _linear(n)
    if scaled is not None:  # the * (1 / 6) after the product
        product = n.inputs[0][0]
        if not np.isclose(scaled[0], 1.0 / 6.0, rtol=1e-6, atol=0.0) or scaled[1] != 0.0 \
                or type(product.module) is not Mul or scan.readers.get(id(product)) != 1:
            return None
        x = _gated(product, scan, lambda g: type(g.module) is ReLU6 and _linear(g.inputs[0][0]) == (1.0, 3.0)
                   and scan.readers.get(id(g.inputs[0][0])) == 1, through=True)
    elif type(n.module) is Mul:
        x = _gated(n, scan, lambda g: type(g.module) is Hardsigmoid
                   and np.isclose(g.module.alpha, 1.0 / 6.0, rtol=1e-6, atol=0.0) and g.module.beta == 0.5)
    else:
        return None
    return None if x is None else _node(Hardswish(), n, scan.new[id(x)])


def _gated(product: Node, scan: _Scan, is_gate: Callable[[Node], bool], through: bool = False
           ) -> Node | None:
    """``x`` of ``product = x * gate(x)`` (either order) where ``gate`` passes ``is_gate`` and has no other reader;
    ``through``: the gate's input is a Power node reading ``x`` (``ReLU6(x + 3)``), else ``x`` itself."""
    if len(product.inputs) != 2 or any(i is not None for _, i in product.inputs):
        return None
    for x, gate in (product.inputs[0][0], product.inputs[1][0]), (product.inputs[1][0], product.inputs[0][0]):
        if gate.module is None or len(gate.inputs) != 1 or scan.readers.get(id(gate)) != 1 or not is_gate(gate):
            continue
        source = gate.inputs[0][0].inputs[0][0] if through else gate.inputs[0][0]
        if source is x and scan.float32_4d(x):
            return x
    return None


def _node(layer: Module, old: Node, *inputs: Node) -> Node:
    """A node running ``layer`` (named as ``old``'s layer, in evaluation mode) on ``inputs``, named as ``old``."""
    layer.name = old.module.name
    return Node(layer.evaluate(), [(x, None) for x in inputs], old.name)
