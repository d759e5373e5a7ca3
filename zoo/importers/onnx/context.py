"""What a converter sees: the node (attributes with spec defaults) and the import context.

A value flowing between ONNX nodes is either a numpy array (a constant: an
initializer, a Constant node or anything computed from constants only, folded at
import time) or a :class:`Sym` (the output of a layer in the graph being built).
Converters build layers and call :meth:`Context.apply`, which folds the layer
right away when all its inputs are constants.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import onnx
from onnx import helper

from bigdl_runtime.nn import Module, Node
from bigdl_runtime.nn.layers.graph_values import TensorSource

from .reader import ConstantRequiredError, OnnxImportError, check_size, tensor_to_array


@dataclass
class Sym:
    """A run-time value: a graph node (or one output of it) and its shape if known (None = unknown dims)."""

    node: Node
    shape: tuple | None = None
    dtype: np.dtype | None = None

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)


class OnnxNode:
    """One NodeProto with decoded attributes; ``where`` names it in error messages."""

    def __init__(self, proto: onnx.NodeProto, ctx: "Context") -> None:
        self.proto = proto
        self.op_type = proto.op_type
        self.domain = "" if proto.domain in ("", "ai.onnx") else proto.domain
        self.name = proto.name or (proto.output[0] if proto.output else proto.op_type)
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.ctx = ctx
        self._attrs = {a.name: a for a in proto.attribute}

    @property
    def where(self) -> str:
        return f"node {self.name!r} ({self.op_type})"

    def error(self, message: str) -> OnnxImportError:
        return OnnxImportError(f"{self.where}: {message}")

    def has(self, key: str) -> bool:
        return key in self._attrs

    def attr(self, key: str, default: Any = None) -> Any:
        """The attribute's value (ints, floats, str, lists, arrays for tensors, GraphProto), or ``default``."""
        a = self._attrs.get(key)
        if a is None:
            return default
        if a.ref_attr_name:
            raise self.error(f"attribute {key!r} refers to a function attribute; only model graphs are supported")
        value = helper.get_attribute_value(a)
        if a.type == onnx.AttributeProto.TENSOR:
            return tensor_to_array(value, self.ctx.base_dir, self.ctx.max_tensor_bytes, f"{self.where} {key}")
        if isinstance(value, bytes):
            return value.decode("utf-8")
        if a.type == onnx.AttributeProto.STRINGS:
            return [v.decode("utf-8") for v in value]
        if a.type in (onnx.AttributeProto.INTS, onnx.AttributeProto.FLOATS):
            return list(value)
        return value

    def n_inputs(self) -> int:
        """Number of inputs given (trailing empty names dropped)."""
        n = len(self.inputs)
        while n and not self.inputs[n - 1]:
            n -= 1
        return n

    def given(self, i: int) -> bool:
        return i < len(self.inputs) and bool(self.inputs[i])

    def value(self, i: int) -> Any:
        """Input ``i``: an array (constant), a :class:`Sym`, or None when omitted."""
        if not self.given(i):
            return None
        return self.ctx.lookup(self.inputs[i], self)

    def const(self, i: int, what: str = "", default: Any = None) -> np.ndarray | None:
        """Input ``i`` as an array; it must be a constant (folded at import), else a clear error."""
        v = self.value(i)
        if v is None:
            return default
        if isinstance(v, Sym):
            label = f"{what}, " if what else ""
            raise ConstantRequiredError(f"{self.where}: input {i} ({label}{self.inputs[i]!r}) must be a constant "
                                        "known at import time, but it is computed from the graph inputs", i)
        return v

    def is_const(self, i: int) -> bool:
        v = self.value(i)
        return v is None or not isinstance(v, Sym)

    def shape(self, i: int) -> tuple | None:
        """Static shape of input ``i`` (entries None where unknown), or None if even the rank is unknown."""
        v = self.value(i)
        if v is None:
            return None
        if not isinstance(v, Sym):
            return tuple(np.shape(v))
        if v.shape is None:
            v.shape = self.ctx.probe_shape(v)
        return v.shape

    def rank(self, i: int) -> int | None:
        s = self.shape(i)
        return None if s is None else len(s)

    def need_rank(self, i: int) -> int:
        r = self.rank(i)
        if r is None:
            raise self.error(f"the rank of input {i} ({self.inputs[i]!r}) is needed but unknown "
                             "(give the graph inputs static ranks)")
        return r

    def apply(self, layer: Module, inputs: Sequence[Any], n_outputs: int = 1, suffix: str = "") -> Any:
        """Run or place ``layer`` on ``inputs`` (see :meth:`Context.apply`)."""
        return self.ctx.apply(self, layer, inputs, n_outputs, suffix)


class Context:
    """State of one import: values by ONNX name, naming, limits, the anchor input for constants."""

    def __init__(self, opset: int, base_dir: Path | None, max_tensor_bytes: int, anchor: Node,
                 convert_graph: Callable[[onnx.GraphProto, "Context"], list[Any]]) -> None:
        self.opset = opset
        self.base_dir = base_dir
        self.max_tensor_bytes = max_tensor_bytes
        self.anchor = anchor
        self.convert_graph = convert_graph
        self.values: dict[str, Any] = {}
        self.domains: dict[str, int] = {"": opset}
        self.weight_ids: set[int] = set()  # ids of initializer arrays: trainable when they feed the graph
        self.inferred: dict[str, tuple] = {}  # value name -> (shape or None, dtype or None)
        self._sources: dict[int, Node] = {}
        self._taken: set[str] = set()
        self._keep: list[np.ndarray] = []
        self._examples: dict[int, Any] = {}
        #: graph input name -> (declared shape or None, dtype or None), for probe passes
        self.input_specs: dict[str, tuple] = {}
        self.static_inputs = False

    def child(self, anchor: Node) -> "Context":
        """A context for a sub-graph (a branch or loop body) built as its own Graph on ``anchor``.

        It shares the opsets, limits, shape table, weight ids and layer names of this one and
        starts with no values: the caller binds the sub-graph's inputs and the outer values it reads.
        """
        sub = Context(self.opset, self.base_dir, self.max_tensor_bytes, anchor, self.convert_graph)
        sub.domains, sub.inferred = self.domains, self.inferred
        sub.weight_ids, sub._taken = self.weight_ids, self._taken
        return sub

    def lookup(self, name: str, node: OnnxNode | None = None) -> Any:
        try:
            return self.values[name]
        except KeyError:
            where = f"{node.where}: " if node is not None else ""
            raise OnnxImportError(f"{where}input {name!r} is neither a graph input, an initializer nor the output "
                                  "of an earlier node (missing initializer, or nodes out of topological order?)"
                                  ) from None

    def unique(self, name: str) -> str:
        base, k, out = name, 1, name
        while out in self._taken:
            k += 1
            out = f"{base}_{k}"
        self._taken.add(out)
        return out

    def probe_shape(self, value: Sym) -> tuple | None:
        """The shape of a value that shape inference left unknown, from a probe forward pass.

        The graph built so far is run (once, memoised) on example inputs of the declared
        input shapes. If every graph input's shape is static the probe's shapes are
        exact; otherwise only its rank is kept (dimensions None).
        """
        try:
            example = self._example(value.node)
        except Exception:  # a probe is only a fallback; the converter reports what it lacks
            return None
        shape = tuple(np.shape(example))
        return shape if self.static_inputs else (None,) * len(shape)

    def _example(self, node: Node) -> Any:
        from bigdl_runtime.nn.graph import Input, _OutputSelector

        if isinstance(node, _OutputSelector):
            return self._example(node.source)[node.index]
        if id(node) in self._examples:
            return self._examples[id(node)]
        if isinstance(node, Input):
            shape, dtype = self.input_specs[node.name]
            if shape is None:
                raise ValueError(f"input {node.name!r} has no declared shape")
            dims = [1 if d is None else d for d in shape]
            dtype = np.dtype(np.float32) if dtype is None else dtype
            rng = np.random.default_rng(0)
            value = rng.standard_normal(dims).astype(dtype) if dtype.kind == "f" else np.zeros(dims, dtype)
        else:
            args = [self._example(src) if index is None else self._example(src)[index] for src, index in node.inputs]
            node.module.evaluate()
            value, _ = node.module.forward_pass(*args)  # the call's context is dropped: nothing stays on the layer
        self._examples[id(node)] = value
        return value

    def release_probes(self) -> None:
        """Drop the probe pass's activations."""
        self._examples.clear()

    def check_size(self, shape: Sequence[int], dtype: Any, what: str) -> None:
        check_size(shape, np.dtype(dtype), what, self.max_tensor_bytes)

    def node_of(self, value: Any, name: str) -> Node:
        """The graph node of a value: a Sym's node, or a :class:`TensorSource` holding a constant."""
        if isinstance(value, Sym):
            return value.node
        key = id(value)
        if key not in self._sources:
            src = TensorSource.of(value, trainable=key in self.weight_ids, name=self.unique(name))
            self._sources[key] = Node.apply(src, (self.anchor,))
            self._keep.append(value)  # keeps the id unique while the import runs
        return self._sources[key]

    def apply(self, node: OnnxNode, layer: Module, inputs: Sequence[Any], n_outputs: int, suffix: str) -> Any:
        """Fold ``layer`` on constant inputs, or add it to the graph on the nodes of ``inputs``.

        Returns an array (or tuple of arrays) when folded, else a :class:`Sym` (or a list
        of them, one per output, when ``n_outputs > 1``).
        """
        present = [v for v in inputs if v is not None]
        if all(not isinstance(v, Sym) for v in present):
            layer.evaluate()
            try:
                out = layer.forward(*present)
            except (ValueError, TypeError, IndexError) as err:
                raise node.error(f"folding constants failed: {err}") from None
            return tuple(np.asarray(o) for o in out) if n_outputs > 1 else np.asarray(out)
        layer.name = self.unique(node.name + suffix)
        args = tuple(self.node_of(v, f"{node.name}/input{i}") for i, v in enumerate(present))
        placed = Node.apply(layer, args)
        if n_outputs > 1:
            return [Sym(placed[i]) for i in range(n_outputs)]
        return Sym(placed)
