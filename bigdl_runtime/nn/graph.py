"""Graph: a directed acyclic network of modules, built functionally.

Calling a module on :class:`Node` objects records an edge instead of computing:

    >>> x = Input(name="x")
    >>> h = Linear(4, 8, name="fc1")(x)
    >>> y = ReLU()(h)
    >>> g = Graph(x, y)
    >>> g(np.zeros((2, 4), np.float32)).shape
    (2, 8)

A layer that returns a tuple (e.g. ``Split``) gives a node that can be indexed,
``parts[0]``, to feed one of its outputs to the next layer. A Graph is a Module
(its children are the layers, keyed by node name), so it can be trained, saved,
frozen by node name and used as a node of another graph. A layer may run at
several nodes (weight sharing): each node's call keeps its own context and the
layer's parameter gradients add up over the nodes.
"""
from __future__ import annotations

import difflib
from typing import Any, Iterable, Sequence

import numpy as np

from .executor import Plan
from .module import Module

#: One input of a node: (source node, output index or None for the whole output).
Edge = tuple["Node", "int | None"]


class Node:
    """A symbolic value: the output of ``module`` applied to the outputs of other nodes.

    Nodes are made by calling a module on nodes (``layer(x)``, see
    :meth:`apply`) or by :class:`Input`; ``node[i]`` selects output ``i`` of a
    multi-output layer.

    Attributes:
        module: the layer this node runs (``None`` for an input).
        inputs: ``(source node, output index or None)`` for each argument of ``module``.
        name: the node's name; ``None`` means the layer's name or, failing that,
            an automatic one (``linear_1``) given by the graph.
    """

    __slots__ = ("module", "inputs", "name")

    def __init__(self, module: Module | None, inputs: Sequence[Edge] = (), name: str | None = None) -> None:
        self.module = module
        self.inputs = tuple(inputs)
        self.name = name

    @staticmethod
    def apply(module: Module, inputs: tuple["Node", ...]) -> "Node":
        """The node of ``module(*inputs)``: what ``Module.__call__`` returns for node arguments."""
        if not isinstance(module, Module):
            raise TypeError(f"only Modules can be applied to graph nodes, got {type(module).__name__}")
        return Node(module, tuple(_edge(x) for x in inputs))

    def __getitem__(self, index: int) -> "Node":
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"{self!r}: output index must be an int, got {type(index).__name__}")
        return _OutputSelector(self, int(index))

    def __iter__(self):
        raise TypeError(f"{self!r} is symbolic and cannot be iterated; index it (node[0], node[1], ...) "
                        "to select the outputs of a multi-output layer")

    def label(self) -> str:
        """The node's name if known, else the layer it runs."""
        if self.name:
            return self.name
        return self.module.describe() if self.module is not None else "Input"

    def __repr__(self) -> str:
        return f"Node({self.label()!r})"


class Input(Node):
    """A graph input: a placeholder for one of the arrays passed to ``Graph.forward``.

    Args:
        name: the input's name (default: ``input_1``, ``input_2``, ... in the graph).

    Examples:
        >>> x = Input(name="image")
        >>> g = Graph(x, Conv2d(3, 8, 3)(x))
    """

    __slots__ = ()

    def __init__(self, name: str | None = None) -> None:
        super().__init__(None, (), name)

    def __repr__(self) -> str:
        return f"Input({self.name!r})" if self.name else "Input()"


class _OutputSelector(Node):
    """``node[index]``: output ``index`` of a multi-output node (a construction-time handle only)."""

    __slots__ = ("source", "index")

    def __init__(self, source: Node, index: int) -> None:
        super().__init__(None, (), None)
        self.source = source
        self.index = index

    def __getitem__(self, index: int) -> Node:
        raise TypeError(f"{self!r} is already one output of a multi-output node and cannot be indexed again")

    def label(self) -> str:
        return f"{self.source.label()}[{self.index}]"

    def __repr__(self) -> str:
        return f"Node({self.label()!r})"


def _edge(x: Any) -> Edge:
    if isinstance(x, _OutputSelector):
        return x.source, x.index
    if isinstance(x, Node):
        return x, None
    raise TypeError(f"graph nodes can only take nodes as inputs, got {type(x).__name__}")


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _add(a: Any, b: Any) -> Any:
    """Sum two gradients; None is zero, tuples/lists (multi-output grads) add elementwise."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return [_add(u, v) for u, v in zip(a, b)]
    return a + b


def _fill(grad: Any, meta: Any) -> Any:
    """``grad`` with zeros where a (part of the) value received no gradient."""
    if isinstance(meta, list):
        parts = grad if grad is not None else [None] * len(meta)
        return tuple(_fill(g, m) for g, m in zip(parts, meta))
    return np.zeros(meta[0], meta[1]) if grad is None else grad


def _accumulate(grads: dict[int, Any], meta: dict[int, Any], slot: int, index: int | None, g: Any) -> None:
    """Add ``g`` to the gradient of the value in ``slot`` (or of its output ``index``)."""
    if g is None:
        return
    if index is not None:
        parts = [None] * len(meta[slot])
        parts[index] = g
        g = parts
    grads[slot] = _add(grads.get(slot), g)


class Graph(Module):
    """A network whose layers form a directed acyclic graph of :class:`Node` objects.

    The graph copies the structure between ``inputs`` and ``outputs`` when it is
    built (later changes to the nodes do not affect it), names every node (the
    layer's ``name``, else ``<class name in lower case>_<k>``) and registers each
    layer as a child under its node name, so parameters read ``fc1.weight`` and
    ``graph.freeze(["conv1", "conv2"])`` works. A layer may appear at several nodes
    (weight sharing): it is registered once, under its first node's name, the other
    nodes get their own names (``fc_2``, or the name given to the node), and the
    gradients of its parameters sum over the nodes. Only layers that keep their
    per-call state in contexts (``Module.reentrant()``) can be shared.

    Args:
        inputs: an :class:`Input` node or a list of them (the order of ``forward``'s arguments).
        outputs: a node or a list of nodes (``forward`` returns a tuple when several).
        name: the graph's name.

    Shape:
        - forward(*arrays): one array per input; returns one array per output.
        - backward(grad): one gradient per output (a tuple when several); returns
          one gradient per input (a tuple when several).

    Examples:
        >>> x = Input(name="x")
        >>> parts = Split(2, dim=1)(Linear(4, 8, name="fc1")(x))
        >>> g = Graph(x, [parts[0], ReLU()(parts[1])])
        >>> head = g.new_graph(outputs=["fc1"])
        >>> z = Input()
        >>> clf = Graph(z, Linear(8, 2, name="classifier")(head(z)))
    """

    def __init__(self, inputs: Node | Sequence[Node], outputs: Node | Sequence[Node],
                 name: str | None = None) -> None:
        super().__init__(name=name)
        in_nodes = _as_list(inputs)
        for x in in_nodes:
            if not isinstance(x, Input):
                raise TypeError(f"{self.describe()}: graph inputs must be Input nodes, got {x!r} "
                                "(to cut a graph at an inner node use graph.new_graph(outputs, inputs))")
        out_edges = [_edge(y) for y in _as_list(outputs)]
        if not in_nodes or not out_edges:
            raise ValueError(f"{self.describe()}: a graph needs at least one input and one output")
        self._build(in_nodes, out_edges)

    # ------------------------------------------------------------ structure
    def _build(self, in_nodes: list[Node], out_edges: list[Edge]) -> None:
        """Copy the nodes between ``in_nodes`` (which become Inputs) and ``out_edges``."""
        if len({id(n) for n in in_nodes}) != len(in_nodes):
            raise ValueError(f"{self.describe()}: the same node is given twice as an input")
        stops = {id(n): n for n in in_nodes}
        order = self._topological(stops, out_edges)
        names = self._name_nodes(in_nodes, order)
        copies: dict[int, Node] = {id(n): Input(names[id(n)]) for n in in_nodes}
        for n in order:
            copies[id(n)] = Node(n.module, [(copies[id(s)], i) for s, i in n.inputs], names[id(n)])
        object.__setattr__(self, "_inputs", tuple(copies[id(n)] for n in in_nodes))
        object.__setattr__(self, "_outputs", tuple((copies[id(s)], i) for s, i in out_edges))
        object.__setattr__(self, "_order", tuple(copies[id(n)] for n in order))
        object.__setattr__(self, "_by_name", {n.name: n for n in (*self._inputs, *self._order)})
        object.__setattr__(self, "_plan", Plan(self.describe(), self._inputs, self._order, self._outputs))
        registered: set[int] = set()
        for n in self._order:
            if id(n.module) not in registered:
                registered.add(id(n.module))
                self._modules[n.name] = n.module
            elif not n.module.reentrant():
                raise ValueError(f"{self.describe()}: {n.module.describe()} is used at two nodes, but it keeps its "
                                 "state between forward and backward (it implements forward/backward, not "
                                 "forward_pass/backward_pass); use a separate layer for each node")

    def _topological(self, stops: dict[int, Node], out_edges: list[Edge]) -> list[Node]:
        """Layer nodes reachable backwards from the outputs, each after its inputs (iterative DFS)."""
        order: list[Node] = []
        done: set[int] = set(stops)
        active: dict[int, Node] = {}
        for root, _ in out_edges:
            stack = [(root, 0)]
            while stack:
                node, k = stack.pop()
                if id(node) in done:
                    continue
                if k == 0:
                    if isinstance(node, Input) or node.module is None:
                        raise ValueError(self._unreachable(root, node, stops))
                    if id(node) in active:
                        path = list(active.values())
                        cycle = " -> ".join(n.label() for n in [*path[path.index(node):], node])
                        raise ValueError(f"{self.describe()}: the nodes form a cycle: {cycle}")
                    active[id(node)] = node
                if k < len(node.inputs):
                    stack.append((node, k + 1))
                    stack.append((node.inputs[k][0], 0))
                else:
                    del active[id(node)]
                    done.add(id(node))
                    order.append(node)
        return order

    def _unreachable(self, root: Node, leaf: Node, stops: dict[int, Node]) -> str:
        known = [n.label() for n in stops.values()]
        return (f"{self.describe()}: output {root.label()!r} is not reachable from the graph inputs {known}: "
                f"it depends on {leaf!r}, which is not one of them")

    def _name_nodes(self, in_nodes: list[Node], order: list[Node]) -> dict[int, str]:
        everything = [*in_nodes, *order]
        names: dict[int, str] = {}
        taken: dict[str, Node] = {}
        named_modules: set[int] = set()  # a shared layer's name goes to its first node only
        for n in everything:
            explicit = n.name
            if explicit is None and n.module is not None and n.module.name and id(n.module) not in named_modules:
                explicit = n.module.name
                named_modules.add(id(n.module))
            if explicit is None:
                continue
            if explicit in taken:
                raise ValueError(f"{self.describe()}: two nodes are named '{explicit}': "
                                 f"{self._what(taken[explicit])} and {self._what(n)}")
            taken[explicit] = n
            names[id(n)] = explicit
        counters: dict[str, int] = {}
        for n in everything:
            if id(n) in names:
                continue
            base = "input" if n.module is None else (n.module.name or type(n.module).__name__.lower())
            k = counters.get(base, 1 if n.module is not None and n.module.name else 0)  # fc, fc_2, fc_3, ...
            while True:
                k += 1
                if f"{base}_{k}" not in taken:
                    break
            counters[base] = k
            names[id(n)] = f"{base}_{k}"
            taken[names[id(n)]] = n
        return names

    @staticmethod
    def _what(n: Node) -> str:
        return "an Input" if n.module is None else n.module.describe()

    # ------------------------------------------------------------- lookup
    @property
    def nodes(self) -> tuple[Node, ...]:
        """Every node, inputs first, then the layer nodes in topological order."""
        return (*self._inputs, *self._order)

    @property
    def input_names(self) -> list[str]:
        return [n.name for n in self._inputs]

    @property
    def output_names(self) -> list[str]:
        return [s.name if i is None else f"{s.name}[{i}]" for s, i in self._outputs]

    @property
    def outputs(self) -> tuple[Edge, ...]:
        """``(node, output index or None)`` of each output, in order."""
        return self._outputs

    def node(self, name: str) -> Node:
        """The node called ``name`` (its ``module`` is the layer); KeyError lists close names."""
        try:
            return self._by_name[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._by_name), n=5, cutoff=0.5)
            hint = f"close names: {close}" if close else f"known: {list(self._by_name)}"
            raise KeyError(f"{self.describe()}: no node named '{name}'; {hint}") from None

    def new_graph(self, outputs: str | Iterable[str], inputs: str | Iterable[str] | None = None,
                  name: str | None = None) -> "Graph":
        """A graph from ``inputs`` to ``outputs`` (node names) sharing this graph's layer objects.

        Args:
            outputs: names of the nodes whose outputs the new graph returns;
                ``"split_1[0]"`` selects one output of a multi-output node.
            inputs: names of the nodes whose outputs become the new graph's
                inputs (an inner node is cut off and replaced by an Input of the
                same name); default: the original inputs the outputs depend on.
            name: the new graph's name.

        The new graph is in this graph's mode (its layers are shared, so they already are).

        Examples:
            >>> features = resnet.new_graph(outputs=["pool5"])
            >>> x = Input()
            >>> model = Graph(x, Linear(2048, 10)(features(x)))
        """
        out_edges = [self._parse_output(o) for o in ([outputs] if isinstance(outputs, str) else list(outputs))]
        if inputs is None:
            reached = {id(n) for n in self._reachable_inputs(out_edges)}
            in_nodes = [n for n in self._inputs if id(n) in reached]
        else:
            in_nodes = [self.node(n) for n in ([inputs] if isinstance(inputs, str) else inputs)]
        graph = Graph.__new__(Graph)
        Module.__init__(graph, name=name)
        graph._build(in_nodes, out_edges)
        object.__setattr__(graph, "training", self.training)  # the mode of the graph it is cut from
        return graph

    def _parse_output(self, text: str) -> Edge:
        if text.endswith("]") and "[" in text:
            base, index = text[:-1].rsplit("[", 1)
            if index.isdigit() and base in self._by_name:
                return self._by_name[base], int(index)
        return self.node(text), None

    def _reachable_inputs(self, out_edges: list[Edge]) -> list[Node]:
        seen: set[int] = set()
        stack = [s for s, _ in out_edges]
        found: list[Node] = []
        while stack:
            n = stack.pop()
            if id(n) in seen:
                continue
            seen.add(id(n))
            if isinstance(n, Input):
                found.append(n)
            stack.extend(s for s, _ in n.inputs)
        return found

    # -------------------------------------------------------- computation
    def forward_pass(self, *inputs: Any) -> tuple[Any, tuple[dict[int, Any], list[Any]]]:
        """The outputs and the call's context: value metadata by slot and each step's context."""
        out, meta, ctxs = self._plan.forward_pass(inputs)
        return out, (meta, ctxs)

    def infer(self, *inputs: Any) -> Any:
        """The outputs with no context, each value freed after its last use (see :mod:`.executor`)."""
        return self._plan.infer(inputs)

    def weights_changed(self) -> None:
        self._plan.clear_shape_cache()  # kept shape-chain values may have read stored tensors

    def backward_pass(self, grad_output: Any, ctx: tuple[dict[int, Any], list[Any]]) -> Any:
        meta, ctxs = ctx
        plan = self._plan
        grads_out = (grad_output,) if len(plan.outputs) == 1 else tuple(grad_output)
        if len(grads_out) != len(plan.outputs):
            raise ValueError(f"{self.describe()}: backward expects {len(plan.outputs)} output gradients "
                             f"{self.output_names}, got {len(grads_out)}")
        grads: dict[int, Any] = {}
        for (s, i), g in zip(plan.outputs, grads_out):
            _accumulate(grads, meta, s, i, g)
        for k in range(len(plan.steps) - 1, -1, -1):
            step = plan.steps[k]
            g = grads.pop(step.out, None)
            if g is None:  # no path to an output carries a gradient: nothing to add
                continue
            if step.out in meta:
                g = _fill(g, meta[step.out])
            gin = step.module.backward_pass(g, ctxs[k])
            gins = (gin,) if len(step.args) == 1 else tuple(gin)
            if len(gins) != len(step.args):
                raise ValueError(f"{self.describe()}: {step.module.describe()} at node '{step.name}' returned "
                                 f"{len(gins)} input gradients for {len(step.args)} inputs")
            for (s, i), gi in zip(step.args, gins):
                _accumulate(grads, meta, s, i, gi)
        result = tuple(_fill(grads.get(k), meta[k]) for k in range(plan.n_inputs))
        return result[0] if len(result) == 1 else result

    # -------------------------------------------------------------- display
    def extra_repr(self) -> str:
        return f"inputs={self.input_names}, outputs={self.output_names}"
