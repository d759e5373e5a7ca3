"""Activations: Relu, LeakyRelu, PRelu, Elu, Selu, Sigmoid, HardSigmoid, HardSwish, Tanh, Softplus, Gelu,
Clip, Softmax, LogSoftmax."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn.layers.graph_values import ReshapeTo, ShapeOf

from ..context import OnnxNode, Sym
from ..registry import ONNX


def _simple(op: str, since: int, make) -> None:
    def convert(node: OnnxNode):
        return node.apply(make(node), [node.value(0)])
    convert.__name__ = op.lower()
    ONNX.register(op, since=since)(convert)


_simple("Relu", 6, lambda n: nn.ReLU())
_simple("Sigmoid", 6, lambda n: nn.Sigmoid())
_simple("Tanh", 6, lambda n: nn.Tanh())
_simple("LeakyRelu", 6, lambda n: nn.LeakyReLU(float(n.attr("alpha", 0.01))))
_simple("Elu", 6, lambda n: nn.ELU(float(n.attr("alpha", 1.0))))
_simple("HardSigmoid", 6, lambda n: nn.Hardsigmoid(float(n.attr("alpha", 0.2)), float(n.attr("beta", 0.5))))
_simple("HardSwish", 14, lambda n: nn.Hardswish())
_simple("Softplus", 1, lambda n: nn.Softplus())
_simple("Gelu", 20, lambda n: nn.GELU(n.attr("approximate", "none")))


@ONNX.register("Selu", since=6)
def selu(node: OnnxNode):
    alpha = float(node.attr("alpha", 1.67326319217681884765625))
    gamma = float(node.attr("gamma", 1.05070102214813232421875))
    if abs(alpha - 1.6732632) > 1e-6 or abs(gamma - 1.0507010) > 1e-6:
        # SELU with other constants: gamma * (x if x > 0 else alpha * (exp(x) - 1)) = gamma * ELU_alpha(x)
        scaled = node.apply(nn.ELU(alpha), [node.value(0)], suffix="/elu")
        return node.apply(nn.Mul(), [scaled, np.asarray(gamma, dtype=np.float32)])
    return node.apply(nn.SELU(), [node.value(0)])


@ONNX.register("PRelu", since=7)
def prelu(node: OnnxNode):
    slope = node.const(1, "slope")
    rank = node.rank(0)
    flat = np.asarray(slope).reshape(-1)
    per_channel = flat.size > 1 and rank is not None and rank >= 2 and \
        tuple(np.shape(slope)) in ((flat.size,) + (1,) * k for k in range(rank - 1)) and \
        (np.ndim(slope) > 1 or rank == 2)
    if flat.size == 1 or per_channel:
        layer = nn.PReLU(flat.size)
        layer.weight.data[...] = flat
        return node.apply(layer, [node.value(0)])
    # any other broadcastable slope: relu(x) - slope * relu(-x), the slope a trainable tensor
    x = node.value(0)
    positive = node.apply(nn.ReLU(), [x], suffix="/positive")
    negated = node.apply(nn.Neg(), [x], suffix="/neg")
    negative = node.apply(nn.ReLU(), [negated], suffix="/negative")
    scaled = node.apply(nn.Mul(), [negative, slope], suffix="/slope")
    return node.apply(nn.Sub(), [positive, scaled])


@ONNX.register("Clip", since=6)
def clip_attrs(node: OnnxNode):
    low, high = node.attr("min"), node.attr("max")
    return _clip(node, low, high)


@ONNX.register("Clip", since=11)
def clip(node: OnnxNode):
    if isinstance(node.value(1), Sym) or isinstance(node.value(2), Sym):  # bounds computed per call
        y = node.value(0)
        if node.given(1):
            y = node.apply(nn.Maximum(), [y, node.value(1)], suffix="/min")
        if node.given(2):
            y = node.apply(nn.Minimum(), [y, node.value(2)], suffix="/max")
        return y
    low, high = node.const(1, "min"), node.const(2, "max")
    return _clip(node, None if low is None else float(low), None if high is None else float(high))


def _clip(node: OnnxNode, low, high):
    if low is not None and high is not None and float(low) == 0.0 and float(high) == 6.0:
        layer = nn.ReLU6()
    else:
        layer = nn.Clip(low, high)
    return node.apply(layer, [node.value(0)])


def _normalize(node: OnnxNode, cls, old_semantics: bool):
    x = node.value(0)
    axis = int(node.attr("axis", 1 if old_semantics else -1))
    rank = node.rank(0)
    last = axis == -1 or (rank is not None and axis % rank == rank - 1)
    if not old_semantics or last:
        return node.apply(cls(dim=axis), [x])
    # opsets < 13: normalise the 2-D view (prod(shape[:axis]), prod(shape[axis:])), then restore the shape
    flat = node.apply(nn.Flatten(axis), [x], suffix="/flatten")  # a negative axis counts from the end
    normed = node.apply(cls(dim=-1), [flat])
    shape = node.apply(ShapeOf(), [x], suffix="/shape")
    return node.apply(ReshapeTo(), [normed, shape], suffix="/reshape")


@ONNX.register("Softmax", since=1)
def softmax_old(node: OnnxNode):
    return _normalize(node, nn.Softmax, True)


@ONNX.register("Softmax", since=13)
def softmax(node: OnnxNode):
    return _normalize(node, nn.Softmax, False)


@ONNX.register("LogSoftmax", since=1)
def log_softmax_old(node: OnnxNode):
    return _normalize(node, nn.LogSoftmax, True)


@ONNX.register("LogSoftmax", since=13)
def log_softmax(node: OnnxNode):
    return _normalize(node, nn.LogSoftmax, False)
