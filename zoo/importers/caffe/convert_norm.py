"""Converters of Caffe's normalisation and affine layers: BatchNorm, Scale, Bias, LRN, Normalize."""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn import (Add, Bias, BatchNorm1d, BatchNorm2d, LocalResponseNorm, Mul, Normalize, Reshape,
                              Scale)

from . import caffe_subset_pb2 as pb
from .context import LayerContext, Value, converter, load


@converter("BatchNorm")
def batch_norm(ctx: LayerContext) -> list[Value]:
    """Caffe's BatchNorm has no affine part (a Scale layer follows); its blobs are the running mean and
    variance multiplied by a scale factor (the third blob) that the loader divides out."""
    ctx.expect_inputs(1)
    p = ctx.layer.batch_norm_param
    shape = ctx.shape()
    if len(shape) not in (2, 3, 4):
        raise ctx.fail(f"expects an input (N, C), (N, C, L) or (N, C, H, W), got {shape}")
    channels = shape[1]
    cls = BatchNorm2d if len(shape) == 4 else BatchNorm1d
    bn = cls(channels, eps=p.eps, momentum=1.0 - p.moving_average_fraction, affine=False, name=ctx.name)
    blobs = ctx.blobs((channels,), (channels,), (1,))
    if blobs:
        factor = float(blobs[2][0])
        factor = 0.0 if factor == 0 else 1.0 / factor
        bn.running_mean[...] = blobs[0] * factor
        bn.running_var[...] = blobs[1] * factor
    return [Value(ctx.apply(bn), shape)]


def _param_shape(ctx: LayerContext, axis: int, num_axes: int) -> tuple[int, ...]:
    shape = ctx.shape()
    axis = ctx.axis(axis)
    if num_axes < -1:
        raise ctx.fail(f"num_axes must be >= -1, got {num_axes}")
    end = len(shape) if num_axes == -1 else axis + num_axes
    if end > len(shape):
        raise ctx.fail(f"axis {axis} and num_axes {num_axes} go past the input's {len(shape)} axes {shape}")
    return tuple(shape[axis:end])


def _second_bottom(ctx: LayerContext, axis: int) -> object:
    """The second bottom reshaped to broadcast against the first; it must cover the first's leading
    axes (axis 0, as in SE blocks: features (N, C, H, W) times weights (N, C))."""
    x_shape, b_shape = ctx.shape(0), ctx.shape(1)
    if ctx.axis(axis) != 0 or tuple(x_shape[:len(b_shape)]) != tuple(b_shape):
        raise ctx.fail(f"with two bottoms only axis 0 and a second bottom covering the first one's leading axes "
                       f"are supported, got axis {axis}, bottoms {x_shape} and {b_shape}")
    second = ctx.inputs[1].node
    if len(b_shape) < len(x_shape):
        second = Reshape([*b_shape[1:], *[1] * (len(x_shape) - len(b_shape))], name=ctx.sub_name("expand"))(second)
    return second


@converter("Scale")
def scale(ctx: LayerContext) -> list[Value]:
    """Scale (per-axis weight, optional bias) or, with a second bottom, a broadcast Mul."""
    ctx.expect_inputs(1, 2)
    p = ctx.layer.scale_param
    if len(ctx.inputs) == 2:
        if p.bias_term:
            raise ctx.fail("a learned bias with the scale taken from a second bottom is not supported")
        return [Value(Mul(name=ctx.name)(ctx.inputs[0].node, _second_bottom(ctx, p.axis)), ctx.shape())]
    pshape = _param_shape(ctx, p.axis, p.num_axes)
    layer = Scale(list(pshape), axis=ctx.axis(p.axis), bias=p.bias_term, name=ctx.name)
    if p.HasField("filler") and p.filler.type == "constant":
        layer.weight.data[...] = p.filler.value
    blobs = ctx.blobs(pshape, *([pshape] if p.bias_term else []))
    if blobs:
        load(layer.weight, blobs[0])
        if p.bias_term:
            load(layer.bias, blobs[1])
    return [Value(ctx.apply(layer), ctx.shape())]


@converter("Bias")
def bias(ctx: LayerContext) -> list[Value]:
    """Bias (per-axis learned bias) or, with a second bottom, a broadcast Add."""
    ctx.expect_inputs(1, 2)
    p = ctx.layer.bias_param
    if len(ctx.inputs) == 2:
        return [Value(Add(name=ctx.name)(ctx.inputs[0].node, _second_bottom(ctx, p.axis)), ctx.shape())]
    pshape = _param_shape(ctx, p.axis, p.num_axes)
    layer = Bias(list(pshape), axis=ctx.axis(p.axis), name=ctx.name)
    blobs = ctx.blobs(pshape)
    if blobs:
        load(layer.bias, blobs[0])
    return [Value(ctx.apply(layer), ctx.shape())]


@converter("LRN")
def lrn(ctx: LayerContext) -> list[Value]:
    """ACROSS_CHANNELS uses ``k``; Caffe's WITHIN_CHANNEL ignores it (always 1)."""
    ctx.expect_inputs(1)
    p = ctx.layer.lrn_param
    if p.local_size % 2 == 0:
        raise ctx.fail(f"Caffe's LRN needs an odd local_size, got {p.local_size}")
    within = p.norm_region == pb.LRNParameter.WITHIN_CHANNEL
    if within and len(ctx.shape()) != 4:
        raise ctx.fail(f"WITHIN_CHANNEL needs an input (N, C, H, W), got {ctx.shape()}")
    layer = LocalResponseNorm(p.local_size, p.alpha, p.beta, 1.0 if within else p.k,
                              region="within" if within else "across", name=ctx.name)
    return [Value(ctx.apply(layer), ctx.shape())]


@converter("Normalize")
def normalize(ctx: LayerContext) -> list[Value]:
    """SSD's L2 normalisation with a learned scale (one shared, or one per channel)."""
    ctx.expect_inputs(1)
    p = ctx.layer.norm_param
    shape = ctx.shape()
    if len(shape) < 2:
        raise ctx.fail(f"expects an input (N, C, ...), got {shape}")
    init = 1.0
    if p.HasField("scale_filler"):
        if p.scale_filler.type != "constant":
            raise ctx.fail(f"only a constant scale_filler is supported, got '{p.scale_filler.type}'")
        init = p.scale_filler.value
    layer = Normalize(shape[1], p.across_spatial, p.channel_shared, p.eps, init, name=ctx.name)
    blobs = ctx.blobs((1,) if p.channel_shared else (shape[1],))
    if blobs:
        load(layer.weight, np.asarray(blobs[0]))
    return [Value(ctx.apply(layer), shape)]
