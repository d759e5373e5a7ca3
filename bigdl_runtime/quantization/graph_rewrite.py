"""The graph pass of :func:`~bigdl_runtime.quantize`: which nodes become int8 layers, which fuse, and which
values stay uint8 between them.

Decided per node from the graph's structure and what calibration observed:

1. **Fusions.** A Linear followed by a ReLU (or ReLU6) that is its only consumer takes it in. A residual Add of
   two same-shaped values, one of them a Conv2d's output used nowhere else and the other (the residual) the
   output of a layer that can write uint8, becomes a :class:`~bigdl_runtime.nn.layers.int8.QuantizedConvAdd2d`
   together with that convolution and the ReLU (or ReLU6) after the Add, when it is the Add's only consumer:
   oneDNN's sum post-op adds the residual where it lies in the destination.
2. **uint8 values.** An int8 layer (or fused group) writes uint8, requantised to its output's observed range,
   when it is not a graph output and a consumer takes uint8: an int8 layer (its input), a fused Add (its
   residual), or a pass-through layer that writes uint8 itself. Pass-through layers (:func:`passes_uint8`)
   write the uint8 they read with the same quantisation, exactly: a MaxPool2d (max commutes with a monotone
   quantisation), a Pad that copies values or pads zeros onto a value whose zero point is 0 (a ResNet's
   option-A shortcut after a ReLU). The consumers of a uint8 value take its quantisation as theirs; a float
   consumer (or a layer shared by several places) reads it through one
   :class:`~bigdl_runtime.nn.layers.int8.Dequantize` per value.
3. **Layouts.** uint8 values are NHWC memory seen as NCHW arrays (what the int8 kernels read and write); a
   float output of an int8 convolution is too when every use is an int8 layer or a layout-keeping layer
   (Add, ReLU, MaxPool2d) whose inputs are all such values, else it is C order (an Add of an NHWC and an NCHW
   array measured 10x a plain one, ResNet-18 at batch 32).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..nn.graph import Graph, Input, Node
from ..nn.layers.activation import ReLU
from ..nn.layers.conv import Conv2d
from ..nn.layers.elementwise import Add
from ..nn.layers.int8 import Dequantize
from ..nn.layers.linear import Linear
from ..nn.layers.math import ReLU6
from ..nn.layers.pad import Pad
from ..nn.layers.pool import MaxPool2d

#: activations fused into the layer before them: type -> the ReLU's cap (None: none)
RELUS = {ReLU: None, ReLU6: 6.0}
#: float layers that keep their inputs' memory layout (numpy elementwise, max pooling)
ELEMENTWISE = (Add, ReLU, ReLU6, MaxPool2d)


def passes_uint8(module: Any, zero_point: int) -> bool:
    """Whether ``module`` computes on uint8 values quantised with ``zero_point`` exactly what it computes on
    the float values they stand for, quantised the same way."""
    if type(module) is MaxPool2d:
        return True
    return type(module) is Pad and (module.mode != "constant" or (module.value == 0.0 and zero_point == 0))


@dataclass
class _Group:
    """Nodes that become one int8 layer: ``head`` (the Conv2d / Linear), ``end`` (whose output the layer
    writes), a fused ReLU, and for a residual Add the Add node and the position of the residual."""
    head: Node
    end: Node
    relu: Node | None = None
    add: Node | None = None
    residual: int = 0


class _GraphPass:
    def __init__(self, rewriter: Any, graph: Graph) -> None:
        self.rw, self.graph = rewriter, graph
        self.nodes = graph.nodes
        self.consumers: dict[int, list[tuple[Node, int]]] = {}
        for n in self.nodes:
            for pos, (s, _) in enumerate(n.inputs):
                self.consumers.setdefault(id(s), []).append((n, pos))
        self.outputs = {id(s) for s, _ in graph.outputs}
        self.sites: dict[int, int] = {}
        for n in self.nodes:
            if n.module is not None:
                self.sites[id(n.module)] = self.sites.get(id(n.module), 0) + 1
        self.groups: dict[int, _Group] = {}  # by id of every node in the group
        self.params: dict[int, tuple[float, int]] = {}  # the uint8 quantisation a node's output may take
        self.uint8: set[int] = set()

    # ------------------------------------------------------------ structure
    def alone(self, n: Node) -> bool:
        return n.module is not None and self.sites.get(id(n.module), 0) == 1

    def only_user(self, n: Node) -> Node | None:
        """The only consumer of n's output (as one plain input), when n is not a graph output."""
        uses = self.consumers.get(id(n), [])
        if id(n) in self.outputs or len(uses) != 1 or uses[0][0].inputs[uses[0][1]][1] is not None:
            return None
        return uses[0][0]

    def fused_relu(self, n: Node) -> Node | None:
        user = self.only_user(n)
        ok = user is not None and type(user.module) in RELUS and len(user.inputs) == 1 and self.alone(user)
        return user if ok else None

    def int8_head(self, n: Node) -> bool:
        return self.rw.quantizable(n.module) and self.alone(n) and len(n.inputs) == 1 and n.inputs[0][1] is None

    def residual_group(self, add: Node, deferred: set[int]) -> _Group | None:
        """The conv + Add (+ ReLU) group of a residual Add node, if it has one (``deferred``: the Conv2d nodes
        whose only user is an Add, not grouped yet)."""
        if not self.alone(add) or len(add.inputs) != 2:
            return None
        key = id(add.module)
        if any(i is not None for _, i in add.inputs) or self.rw.shapes.get((key, 0)) != self.rw.shapes.get((key, 1)):
            return None  # broadcasting, or a multi-output input
        for pos in (0, 1):
            conv, other = add.inputs[pos][0], add.inputs[1 - pos][0]
            writes_uint8 = id(other) in self.params or (
                id(other) in deferred and (id(other.module), "out") in self.rw.params)
            if id(conv) in deferred and other is not conv and writes_uint8 and (key, 1 - pos) in self.rw.params:
                relu = self.fused_relu(add)
                return _Group(conv, relu or add, relu, add, 1 - pos)
        return None

    def head_group(self, n: Node) -> _Group | None:
        if not self.int8_head(n):
            return None
        relu = self.fused_relu(n) if isinstance(n.module, Linear) else None
        return _Group(n, relu or n, relu)

    def add_group(self, group: _Group) -> None:
        for member in (group.head, group.end, group.relu, group.add):
            if member is not None:
                self.groups[id(member)] = group
        out = self.rw.params.get((id(group.end.module), "out"))
        if out is not None:
            self.params[id(group.end)] = out

    def find_groups(self) -> None:
        """Groups and the uint8 quantisation each group end / max pool could write, in topological order. A
        Conv2d whose only user is an Add waits for it: it may fuse with it, or take the residual from the other
        input's group, which must be able to write uint8."""
        deferred: set[int] = set()
        for n in self.nodes:
            if n.module is None:
                continue
            if type(n.module) is Conv2d and self.int8_head(n) and \
                    type(getattr(self.only_user(n), "module", None)) is Add:
                deferred.add(id(n))
            elif type(n.module) is Add:
                group = self.residual_group(n, deferred)
                for s, _ in n.inputs:
                    if id(s) in deferred and id(s) not in self.groups and (group is None or s is not group.head):
                        self.add_group(self.head_group(s))
                if group is not None:
                    self.add_group(group)
            elif self.pass_through(n):
                self.params[id(n)] = self.params[id(n.inputs[0][0])]
            else:
                group = self.head_group(n)
                if group is not None:
                    self.add_group(group)

    def pass_through(self, n: Node) -> bool:
        """Whether n is a pass-through layer (see :func:`passes_uint8`) reading a value that may be uint8."""
        if len(n.inputs) != 1 or n.inputs[0][1] is not None or id(n.inputs[0][0]) not in self.params:
            return False
        return passes_uint8(n.module, self.params[id(n.inputs[0][0])][1])

    # ------------------------------------------------------------ uint8 values
    def takes_uint8(self, user: Node, pos: int) -> bool:
        group = self.groups.get(id(user))
        if group is not None:
            return (user is group.head and pos == 0) or (user is group.add and pos == group.residual)
        return id(user) in self.uint8 and self.pass_through(user)

    def choose_uint8(self) -> None:
        """uint8 where a consumer takes it (consumers last first, so a pass-through layer's choice is known),
        then every pass-through layer reading uint8 (no larger a value to dequantise)."""
        for n in reversed(self.nodes):
            if id(n) in self.params and id(n) not in self.outputs and any(
                    self.takes_uint8(u, pos) for u, pos in self.consumers.get(id(n), [])):
                self.uint8.add(id(n))
        for n in self.nodes:
            if (id(n) not in self.groups and id(n) in self.params and id(n) not in self.outputs
                    and id(n.inputs[0][0]) in self.uint8):
                self.uint8.add(id(n))

    def channels_last(self) -> set[int]:
        """The nodes with a float output that may stay channels-last (see the module docstring)."""
        def conv_end(n: Node) -> bool:
            group = self.groups.get(id(n))
            return group is not None and group.end is n and isinstance(group.head.module, Conv2d)

        keep = {id(n) for n in self.nodes if n.module is not None and id(n) not in self.outputs
                and id(n) not in self.uint8 and (conv_end(n) or isinstance(n.module, ELEMENTWISE))}
        changed = True
        while changed:
            changed = False
            for n in self.nodes:
                if id(n) not in keep:
                    continue
                uses = self.consumers.get(id(n), [])
                bad_use = any(not self.takes_uint8(u, pos) and id(u) not in keep for u, pos in uses)
                bad_input = not conv_end(n) and any(id(s) not in keep and id(s) not in self.uint8
                                                    for s, _ in n.inputs)
                if bad_use or bad_input or not uses:
                    keep.discard(id(n))
                    changed = True
        return keep

    # ------------------------------------------------------------ building
    def build(self) -> Graph:
        self.find_groups()
        self.choose_uint8()
        keep = self.channels_last()
        new: dict[int, Node] = {}
        dequantized: dict[int, Node] = {}

        def edge(s: Node, i: int | None, uint8: bool) -> tuple[Node, int | None]:
            """The new edge for an input from ``s``: as it is, or through s's Dequantize for a float user."""
            if id(s) not in self.uint8 or uint8:
                return new[id(s)], i
            if id(s) not in dequantized:
                name = f"{new[id(s)].name}_dequantize"
                dequantized[id(s)] = Node(Dequantize(*self.params[id(s)], name=name), [(new[id(s)], None)], name)
            return dequantized[id(s)], None

        for n in self.nodes:
            if n.module is None:
                new[id(n)] = Input(n.name)
                continue
            group = self.groups.get(id(n))
            if group is None:
                inputs = [edge(s, i, id(n) in self.uint8) for s, i in n.inputs]
                new[id(n)] = Node(self.rw.module(n.module), inputs, n.name)
            elif n is group.end:
                new[id(n)] = self.fused(group, edge, id(n) in keep)
                for member in (group.head, group.relu, group.add):
                    if member is not None:
                        new[id(member)] = new[id(n)]
        outs = [new[id(s)] if i is None else new[id(s)][i] for s, i in self.graph.outputs]
        ins = [new[id(n)] for n in self.nodes if n.module is None]
        return Graph(ins, outs if len(outs) > 1 else outs[0], name=self.graph.name)

    def fused(self, group: _Group, edge: Any, keep: bool) -> Node:
        head, end = group.head, group.end
        source = head.inputs[0][0]
        if id(source) in self.uint8:
            self.rw.fed[id(head.module)] = self.params[id(source)]
        inputs = [edge(source, None, True)]
        addend = None
        if group.add is not None:
            residual = group.add.inputs[group.residual][0]
            quantized = id(residual) in self.uint8
            scale, zero_point = self.params[id(residual)] if quantized else \
                self.rw.params[(id(group.add.module), group.residual)]
            addend = (scale, zero_point, quantized)
            inputs.append(edge(residual, None, True))
        max_value = RELUS[type(group.relu.module)] if group.relu is not None else False
        output = self.params[id(end)] if id(end) in self.uint8 else None
        layer = self.rw.layer(head.module, max_value, output, id(end) in self.uint8 or keep, addend)
        return Node(layer, inputs, end.name if id(end) in self.outputs else head.name)  # output names kept


def rewrite_graph(rewriter: Any, graph: Graph) -> Graph:
    """The int8 graph of a fused float graph (``rewriter``: the quantizer's layer builder)."""
    return _GraphPass(rewriter, graph).build()
