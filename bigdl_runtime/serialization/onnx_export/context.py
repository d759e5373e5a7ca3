"""The state of one export: the ONNX nodes and initializers made so far, and unique names.

Emitters receive the :class:`ExportContext` and add nodes to it; a tensor flowing
between layers is a :class:`Value`: its ONNX name plus the sample array our own
layer produced for it while the model was traced, so emitters can read static
shapes (everything but the dynamic first axis).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass(frozen=True)
class Value:
    """A tensor of the exported graph: its ONNX ``name`` and the ``sample`` our model computed for it."""

    name: str
    sample: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.sample))

    @property
    def rank(self) -> int:
        return len(self.shape)


class ExportContext:
    """Collects nodes and initializers; hands out unique node, tensor and initializer names.

    Args:
        opset: the default-domain opset the emitters target.
        dtype: the floating dtype of the exported weights (float32).
    """

    def __init__(self, opset: int, dtype: Any = np.float32) -> None:
        self.opset = opset
        self.dtype = np.dtype(dtype)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._taken: set[str] = set()

    def unique(self, base: str) -> str:
        """``base`` if no tensor, node or initializer has that name yet, else ``base_1``, ``base_2``, ..."""
        name, k = base, 0
        while name in self._taken:
            k += 1
            name = f"{base}_{k}"
        self._taken.add(name)
        return name

    def reserve(self, name: str) -> None:
        """Claim ``name`` (a graph input) so nothing else gets it."""
        if name in self._taken:
            raise ValueError(f"ONNX export: the name '{name}' is used twice")
        self._taken.add(name)

    def weight(self, name: str, array: np.ndarray, dtype: Any = None) -> str:
        """Add ``array`` as an initializer (cast to the export dtype unless ``dtype``); returns its name."""
        data = np.array(array, dtype=dtype or self.dtype, order="C")  # (ascontiguousarray makes 0-D 1-D)
        unique = self.unique(name)
        self.initializers.append(numpy_helper.from_array(data, unique))
        return unique

    def ints(self, name: str, values: Sequence[int]) -> str:
        """A 1-D int64 initializer (shapes, axes, split sizes, pads)."""
        return self.weight(name, np.asarray(list(values), dtype=np.int64), dtype=np.int64)

    def scalar(self, name: str, value: float) -> str:
        """A 0-D initializer of the export dtype."""
        return self.weight(name, np.asarray(value, dtype=self.dtype))

    def node(self, op_type: str, inputs: Sequence[str], name: str, n_outputs: int = 1,
             outputs: Sequence[str] | None = None, **attrs: Any) -> list[str]:
        """Add one ``op_type`` node named (uniquely) ``name``; returns its output tensor names.

        Args:
            inputs: input tensor names ("" for an omitted optional input).
            name: node name; with one output it also names the output tensor.
            n_outputs: outputs to create when ``outputs`` is not given.
            outputs: explicit output names ("" for an unused optional output).
            attrs: the node's attributes (``None`` values are left out).
        """
        node_name = self.unique(name)
        if outputs is None:
            outputs = [node_name] if n_outputs == 1 else [self.unique(f"{node_name}:{i}") for i in range(n_outputs)]
        kept = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=node_name, **kept))
        return list(outputs)

    def one(self, op_type: str, inputs: Sequence[str], name: str, **attrs: Any) -> str:
        """:meth:`node` for single-output ops; returns the output name."""
        return self.node(op_type, inputs, name, **attrs)[0]
