"""What a Caffe layer converter gets and returns, and the converter registry.

A converter is registered with :func:`converter` under the Caffe type name and called
with a :class:`LayerContext`; it builds our layers on the input nodes and returns one
:class:`Value` (graph node and Caffe shape, batch included) per top blob.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from bigdl_runtime.nn import Module, Node
from zoo.importers.registry import Registry

from . import caffe_subset_pb2 as pb
from .blobs import Weights
from .files import CaffeImportError

#: the Caffe converters, keyed by layer type (domain "caffe", version 1)
CAFFE = Registry("Caffe")
DOMAIN = "caffe"

#: a blob's shape, batch included; None where only the data decides (detection counts)
Shape = tuple


def converter(layer_type: str) -> Callable:
    """Decorator registering a converter for the Caffe layer type ``layer_type``."""
    return CAFFE.register(layer_type, since=1, domain=DOMAIN)


@dataclass(frozen=True)
class Value:
    """A blob during conversion: the graph node computing it and its Caffe shape."""

    node: Node
    shape: Shape


class LayerContext:
    """One Caffe layer being converted.

    Attributes:
        layer: the layer's parameters (current format).
        name: the layer's name (given, or made up from its type and position).
        inputs: the bottom blobs, in order.
        weights: the caffemodel's blobs (None when no caffemodel was given: layers keep their initialisation).
    """

    def __init__(self, layer: pb.LayerParameter, name: str, inputs: Sequence[Value], weights: Weights | None) -> None:
        self.layer = layer
        self.name = name
        self.inputs = list(inputs)
        self.weights = weights

    @property
    def type(self) -> str:
        return self.layer.type

    def fail(self, message: str) -> CaffeImportError:
        """An error naming this layer (raise it)."""
        return CaffeImportError(f"{self.type} layer '{self.name}': {message}")

    def expect_inputs(self, *counts: int) -> None:
        """Fail unless the layer has one of ``counts`` bottoms."""
        if len(self.inputs) not in counts:
            wanted = " or ".join(str(c) for c in counts)
            raise self.fail(f"expects {wanted} bottom blob(s), got {len(self.inputs)}")

    def shape(self, i: int = 0) -> Shape:
        return self.inputs[i].shape

    def axis(self, axis: int, ndim: int | None = None) -> int:
        """Caffe's canonical axis index: ``axis`` in ``[-ndim, ndim)`` made non-negative."""
        ndim = len(self.shape()) if ndim is None else ndim
        if not -ndim <= axis < ndim:
            raise self.fail(f"axis {axis} is out of range for a {ndim}-D input {self.shape()}")
        return axis + ndim if axis < 0 else axis

    def blobs(self, *expected: Shape) -> list[np.ndarray] | None:
        """The layer's weight blobs in the ``expected`` Caffe shapes (None without a caffemodel)."""
        if self.weights is None:
            return None
        return self.weights.blobs(self.name, self.type, expected)

    def apply(self, module: Module, *inputs: Node) -> Node:
        """The node of ``module`` applied to ``inputs`` (default: every bottom, in order)."""
        nodes = inputs or tuple(v.node for v in self.inputs)
        return module(*nodes)

    def sub_name(self, suffix: str) -> str:
        """Name of a helper layer this converter adds next to the main one (``conv1/flatten``)."""
        return f"{self.name}/{suffix}"


def load(param: object, value: np.ndarray) -> None:
    """Copy ``value`` into a Parameter's data in place (reshaped to it)."""
    param.data[...] = np.asarray(value, dtype=param.data.dtype).reshape(param.data.shape)

