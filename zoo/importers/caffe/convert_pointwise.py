"""Converters of Caffe's elementwise layers: activations, Power, Dropout, Softmax, Eltwise."""
from __future__ import annotations

from bigdl_runtime.nn import (ELU, PReLU, Abs, Add, Dropout, LeakyReLU, Maximum, Mul, Power, ReLU, Sigmoid,
                              Softmax, Tanh)

from . import caffe_subset_pb2 as pb
from .context import LayerContext, Value, converter, load


def _same(ctx: LayerContext, module: object) -> list[Value]:
    """A one-bottom layer whose top has the bottom's shape."""
    ctx.expect_inputs(1)
    return [Value(ctx.apply(module), ctx.shape())]


@converter("ReLU")
def relu(ctx: LayerContext) -> list[Value]:
    """ReLU, or LeakyReLU when ``negative_slope`` is set."""
    slope = ctx.layer.relu_param.negative_slope
    return _same(ctx, LeakyReLU(slope, name=ctx.name) if slope else ReLU(name=ctx.name))


@converter("PReLU")
def prelu(ctx: LayerContext) -> list[Value]:
    """PReLU: one slope per channel, or one shared (``channel_shared``, a 0-D blob)."""
    p = ctx.layer.prelu_param
    if len(ctx.shape()) < 2:
        raise ctx.fail(f"expects an input (N, C, ...), got {ctx.shape()}")
    channels = ctx.shape()[1]
    init = p.filler.value if p.HasField("filler") and p.filler.type == "constant" else 0.25
    layer = PReLU(1 if p.channel_shared else channels, init=init, name=ctx.name)
    blobs = ctx.blobs(() if p.channel_shared else (channels,))
    if blobs:
        load(layer.weight, blobs[0])
    return _same(ctx, layer)


@converter("ELU")
def elu(ctx: LayerContext) -> list[Value]:
    """ELU with ``alpha``."""
    return _same(ctx, ELU(ctx.layer.elu_param.alpha, name=ctx.name))


@converter("Sigmoid")
def sigmoid(ctx: LayerContext) -> list[Value]:
    """Sigmoid."""
    return _same(ctx, Sigmoid(name=ctx.name))


@converter("TanH")
def tanh(ctx: LayerContext) -> list[Value]:
    """Tanh."""
    return _same(ctx, Tanh(name=ctx.name))


@converter("AbsVal")
def absval(ctx: LayerContext) -> list[Value]:
    """Abs."""
    return _same(ctx, Abs(name=ctx.name))


@converter("Power")
def power(ctx: LayerContext) -> list[Value]:
    """Power: ``(shift + scale * x) ** power``."""
    p = ctx.layer.power_param
    return _same(ctx, Power(p.power, p.scale, p.shift, name=ctx.name))


@converter("Dropout")
def dropout(ctx: LayerContext) -> list[Value]:
    """Identity at inference; inverted dropout of ``dropout_ratio`` in training, as Caffe."""
    return _same(ctx, Dropout(ctx.layer.dropout_param.dropout_ratio, name=ctx.name))


@converter("Softmax")
def softmax(ctx: LayerContext) -> list[Value]:
    """Softmax over ``axis``."""
    ctx.expect_inputs(1)
    return _same(ctx, Softmax(dim=ctx.axis(ctx.layer.softmax_param.axis), name=ctx.name))


@converter("Eltwise")
def eltwise(ctx: LayerContext) -> list[Value]:
    """SUM (with optional per-input coefficients), PROD or MAX of equally shaped bottoms."""
    if len(ctx.inputs) < 2:
        raise ctx.fail(f"expects at least 2 bottom blobs, got {len(ctx.inputs)}")
    shape = ctx.shape()
    for i, v in enumerate(ctx.inputs[1:], start=1):
        if tuple(v.shape) != tuple(shape):
            raise ctx.fail(f"bottom shapes differ: bottom 0 is {shape}, bottom {i} is {v.shape}")
    p = ctx.layer.eltwise_param
    op = pb.EltwiseParameter.EltwiseOp.Name(p.operation)
    nodes = [v.node for v in ctx.inputs]
    if p.coeff and (op != "SUM" or len(p.coeff) != len(nodes)):
        raise ctx.fail(f"coeff is only for SUM, one per bottom; got {list(p.coeff)} for {op} of {len(nodes)}")
    if op == "SUM":
        coeffs = list(p.coeff) or [1.0] * len(nodes)
        nodes = [node if c == 1.0 else Power(1.0, c, 0.0, name=ctx.sub_name(f"coeff{i}"))(node)
                 for i, (node, c) in enumerate(zip(nodes, coeffs))]
        return [Value(Add(name=ctx.name)(*nodes), shape)]
    if op == "MAX":
        return [Value(Maximum(name=ctx.name)(*nodes), shape)]
    node = nodes[0]
    for i, other in enumerate(nodes[1:], start=1):  # Mul takes two inputs: a chain, the last named after the layer
        node = Mul(name=ctx.name if i == len(nodes) - 1 else ctx.sub_name(f"prod{i}"))(node, other)
    return [Value(node, shape)]
