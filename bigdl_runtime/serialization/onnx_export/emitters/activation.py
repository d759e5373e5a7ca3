"""Activations: one ONNX op each where ONNX has the same function, else a few elementwise nodes
(GELU at opset < 20, Softplus with beta or a low threshold)."""
from __future__ import annotations

import math

import numpy as np

from ....kernels.activation import _SELU_ALPHA, _SELU_SCALE
from ....nn.layers import activation as A
from ..context import ExportContext, Value
from ..dispatch import by_class, emits

_SIMPLE = {A.ReLU: "Relu", A.Sigmoid: "Sigmoid", A.Tanh: "Tanh", A.Hardswish: "HardSwish"}


@emits(*_SIMPLE)
def simple(ctx: ExportContext, layer: A._Activation, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one(by_class(_SIMPLE, layer), [inputs[0].name], name)


@emits(A.LeakyReLU)
def leaky_relu(ctx: ExportContext, layer: A.LeakyReLU, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("LeakyRelu", [inputs[0].name], name, alpha=layer.negative_slope)


@emits(A.ELU)
def elu(ctx: ExportContext, layer: A.ELU, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Elu", [inputs[0].name], name, alpha=layer.alpha)


@emits(A.SELU)
def selu(ctx: ExportContext, layer: A.SELU, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Selu", [inputs[0].name], name, alpha=_SELU_ALPHA, gamma=_SELU_SCALE)


@emits(A.Hardsigmoid)
def hard_sigmoid(ctx: ExportContext, layer: A.Hardsigmoid, inputs: list[Value], output: np.ndarray,
                 name: str) -> str:
    return ctx.one("HardSigmoid", [inputs[0].name], name, alpha=layer.alpha, beta=layer.beta)


@emits(A.GELU)
def gelu(ctx: ExportContext, layer: A.GELU, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x = inputs[0].name
    if ctx.opset >= 20:
        return ctx.one("Gelu", [x], name, approximate=layer.approximate)
    if layer.approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = ctx.one("Mul", [ctx.one("Mul", [x, x], f"{name}/square"), x], f"{name}/cube")
        inner = ctx.one("Add", [x, ctx.one("Mul", [cube, ctx.scalar(f"{name}.c", 0.044715)], f"{name}/cubic")],
                        f"{name}/inner")
        arg = ctx.one("Mul", [inner, ctx.scalar(f"{name}.k", math.sqrt(2.0 / math.pi))], f"{name}/arg")
        curve = ctx.one("Tanh", [arg], f"{name}/tanh")
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        curve = ctx.one("Erf", [ctx.one("Mul", [x, ctx.scalar(f"{name}.k", 1.0 / math.sqrt(2.0))], f"{name}/arg")],
                        f"{name}/erf")
    one_plus = ctx.one("Add", [curve, ctx.scalar(f"{name}.one", 1.0)], f"{name}/one_plus")
    half_x = ctx.one("Mul", [x, ctx.scalar(f"{name}.half", 0.5)], f"{name}/half_x")
    return ctx.one("Mul", [half_x, one_plus], name)


@emits(A.Softplus)
def softplus(ctx: ExportContext, layer: A.Softplus, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x = inputs[0].name
    if layer.beta == 1.0 and layer.threshold >= 20.0:  # log1p(exp(x)) == x to float32 precision above 20
        return ctx.one("Softplus", [x], name)
    beta = ctx.scalar(f"{name}.beta", layer.beta)
    bx = ctx.one("Mul", [x, beta], f"{name}/beta_x")
    soft = ctx.one("Div", [ctx.one("Softplus", [bx], f"{name}/softplus"), beta], f"{name}/scaled")
    linear = ctx.one("Greater", [bx, ctx.scalar(f"{name}.threshold", layer.threshold)], f"{name}/linear")
    return ctx.one("Where", [linear, x, soft], name)


@emits(A.Softmax, A.LogSoftmax)
def softmax(ctx: ExportContext, layer: A._Normalize, inputs: list[Value], output: np.ndarray, name: str) -> str:
    op = "Softmax" if isinstance(layer, A.Softmax) else "LogSoftmax"
    return ctx.one(op, [inputs[0].name], name, axis=layer.dim)


@emits(A.PReLU)
def prelu(ctx: ExportContext, layer: A.PReLU, inputs: list[Value], output: np.ndarray, name: str) -> str:
    slope = layer.weight.data
    if layer.num_parameters > 1:  # one slope per channel (axis 1): broadcast as (C, 1, ..., 1)
        slope = slope.reshape(layer.num_parameters, *[1] * (inputs[0].rank - 2))
    return ctx.one("PRelu", [inputs[0].name, ctx.weight(f"{name}.weight", slope)], name)
