"""Tiny layers for the serialization tests (prefixed ``Ser`` so registry names cannot clash)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn import Module, Parameter, init
from bigdl_runtime.nn.graph import Graph, Input
from bigdl_runtime.nn.sequential import Sequential


class SerAffine(Module):
    """y = x @ weight.T (+ bias); rejects non-positive sizes."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"SerAffine: sizes must be positive, got ({in_features}, {out_features})")
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(init.default_weight((out_features, in_features)))
        self.bias = Parameter(init.default_bias((out_features,), in_features)) if bias else None

    def forward(self, x):
        y = x @ self.weight.data.T
        return y if self.bias is None else y + self.bias.data

    def get_config(self):
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None}


class SerCenter(Module):
    """Subtracts the batch mean in training (tracking it in a buffer), the running mean in eval."""

    def __init__(self, num_features: int, momentum: float = 0.5, name: str | None = None) -> None:
        super().__init__(name=name)
        self.num_features, self.momentum = num_features, momentum
        self.register_buffer("running_mean", np.zeros(num_features, np.float32))
        self.register_buffer("steps", 0)

    def forward(self, x):
        if not self.training:
            return x - self.running_mean
        mean = x.mean(0)
        self.running_mean += self.momentum * (mean - self.running_mean)
        self.register_buffer("steps", self.steps + 1)
        return x - mean

    def get_config(self):
        return {"num_features": self.num_features, "momentum": self.momentum}


class SerSplit(Module):
    """Two outputs: the first ``sizes[0]`` columns and the rest (``sizes`` is a list in the config)."""

    def __init__(self, sizes: list, name: str | None = None) -> None:
        super().__init__(name=name)
        self.sizes = list(sizes)

    def forward(self, x):
        return x[:, :self.sizes[0]], x[:, self.sizes[0]:]

    def get_config(self):
        return {"sizes": self.sizes}


class SerMul(Module):
    def forward(self, a, b):
        return a * b


class SerTanh(Module):
    def forward(self, x):
        return np.tanh(x)


def sequential() -> Sequential:
    return Sequential(SerAffine(4, 6, name="fc1"), SerTanh(), SerCenter(6), SerAffine(6, 3, bias=False))


def graph() -> Graph:
    """Fan-out, a multi-output layer with one output unused, a two-input layer, two outputs."""
    x = Input(name="x")
    h = SerAffine(4, 6, name="fc1")(x)
    parts = SerSplit([3, 3])(SerTanh()(h))
    y = SerMul()(parts[1], SerAffine(6, 3)(h))
    return Graph(x, [SerCenter(3, name="center")(y), parts[0]], name="toy")


class SerPick(Module):
    """Select one element of a tuple input."""

    def __init__(self, index: int, name: str | None = None) -> None:
        super().__init__(name=name)
        self.index = index

    def forward(self, parts):
        return parts[self.index]

    def get_config(self):
        return {"index": self.index}


def nested() -> Graph:
    """A graph holding a sequential that holds a graph, next to a second input."""
    a, b = Input(name="a"), Input(name="b")
    block = Sequential(graph(), SerPick(0), name="block")
    return Graph([a, b], SerMul()(block(a), SerAffine(4, 3, name="side")(b)))
