"""Converters of Caffe's spatial layers: Convolution, Deconvolution, InnerProduct, Pooling.

Geometry is read with Caffe's defaults and precedence (``kernel_h``/``kernel_w`` over
``kernel_size``, one value for both axes or one per axis, H before W), and output sizes
follow Caffe's formulas, including Pooling's rounding up and its clipping of a last
window that would start in the bottom/right padding.
"""
from __future__ import annotations

import math

from bigdl_runtime.nn import (AvgPool2d, Conv2d, ConvTranspose2d, Flatten, GlobalAvgPool2d, GlobalMaxPool2d,
                              Linear, MaxPool2d, Reshape)

from . import caffe_subset_pb2 as pb
from .context import LayerContext, Value, converter, load


def _hw(ctx: LayerContext, repeated: list[int], h: int | None, w: int | None, default: int | None,
        what: str) -> tuple[int, int]:
    """(h, w) from ``*_h``/``*_w`` when set, else from a repeated field of 0, 1 or 2 values."""
    if h is not None or w is not None:
        if h is None or w is None:
            raise ctx.fail(f"{what}_h and {what}_w must be given together")
        return int(h), int(w)
    values = [int(v) for v in repeated]
    if not values:
        if default is None:
            raise ctx.fail(f"{what} is required (kernel_size, or kernel_h and kernel_w)")
        return default, default
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise ctx.fail(f"only 2-D geometry is supported, got {what} {values}")


def _opt(msg: object, field: str) -> int | None:
    return getattr(msg, field) if msg.HasField(field) else None


def _conv_geometry(ctx: LayerContext, p: pb.ConvolutionParameter) -> dict:
    if p.axis != 1:
        raise ctx.fail(f"only channel axis 1 is supported, got axis {p.axis}")
    if len(ctx.shape()) != 4:
        raise ctx.fail(f"only 2-D convolution of (N, C, H, W) inputs is supported, got input {ctx.shape()}")
    if not p.HasField("num_output"):
        raise ctx.fail("num_output is required")
    kernel = _hw(ctx, p.kernel_size, _opt(p, "kernel_h"), _opt(p, "kernel_w"), None, "kernel")
    pad = _hw(ctx, p.pad, _opt(p, "pad_h"), _opt(p, "pad_w"), 0, "pad")
    stride = _hw(ctx, p.stride, _opt(p, "stride_h"), _opt(p, "stride_w"), 1, "stride")
    dilation = _hw(ctx, p.dilation, None, None, 1, "dilation")
    channels, groups = ctx.shape()[1], int(p.group)
    if groups < 1 or channels % groups or p.num_output % groups:
        raise ctx.fail(f"input channels {channels} and num_output {p.num_output} must be divisible by group {groups}")
    return dict(kernel=kernel, pad=pad, stride=stride, dilation=dilation, groups=groups, channels=channels)


@converter("Convolution")
def convolution(ctx: LayerContext) -> list[Value]:
    """Conv2d: groups, dilation, kernel/pad/stride as one value, one per axis or ``*_h``/``*_w``."""
    ctx.expect_inputs(1)
    p = ctx.layer.convolution_param
    g = _conv_geometry(ctx, p)
    conv = Conv2d(g["channels"], p.num_output, g["kernel"], g["stride"], list(g["pad"]), g["dilation"],
                  g["groups"], p.bias_term, name=ctx.name)
    blobs = ctx.blobs(conv.weight.shape, *([(p.num_output,)] if p.bias_term else []))
    if blobs:
        load(conv.weight, blobs[0])
        if p.bias_term:
            load(conv.bias, blobs[1])
    n, _, h, w = ctx.shape()
    out = [(size + 2 * pd - (d * (k - 1) + 1)) // s + 1
           for size, k, pd, s, d in zip((h, w), g["kernel"], g["pad"], g["stride"], g["dilation"])]
    if min(out) < 1:
        raise ctx.fail(f"the kernel {g['kernel']} does not fit the input {ctx.shape()} with pad {g['pad']}")
    return [Value(ctx.apply(conv), (n, p.num_output, *out))]


@converter("Deconvolution")
def deconvolution(ctx: LayerContext) -> list[Value]:
    """ConvTranspose2d (weights ``(C_in, C_out / group, kh, kw)`` as Caffe stores them)."""
    ctx.expect_inputs(1)
    p = ctx.layer.convolution_param
    g = _conv_geometry(ctx, p)
    deconv = ConvTranspose2d(g["channels"], p.num_output, g["kernel"], g["stride"], list(g["pad"]), 0, g["groups"],
                             p.bias_term, g["dilation"], name=ctx.name)
    blobs = ctx.blobs(deconv.weight.shape, *([(p.num_output,)] if p.bias_term else []))
    if blobs:
        load(deconv.weight, blobs[0])
        if p.bias_term:
            load(deconv.bias, blobs[1])
    n, _, h, w = ctx.shape()
    out = [s * (size - 1) + d * (k - 1) + 1 - 2 * pd
           for size, k, pd, s, d in zip((h, w), g["kernel"], g["pad"], g["stride"], g["dilation"])]
    if min(out) < 1:
        raise ctx.fail(f"the output size {out} is not positive for input {ctx.shape()}")
    return [Value(ctx.apply(deconv), (n, p.num_output, *out))]


@converter("InnerProduct")
def inner_product(ctx: LayerContext) -> list[Value]:
    """Caffe flattens the axes from ``axis`` on and multiplies by ``(N, K)`` (``(K, N)`` if ``transpose``)."""
    ctx.expect_inputs(1)
    p = ctx.layer.inner_product_param
    shape = ctx.shape()
    axis = ctx.axis(p.axis)
    if axis == 0:
        raise ctx.fail("axis 0 would merge the batch into the features; only axis >= 1 is supported")
    if not p.HasField("num_output"):
        raise ctx.fail("num_output is required")
    k = math.prod(shape[axis:])
    node = ctx.inputs[0].node
    if axis == 1 and len(shape) > 2:
        node = Flatten(1, name=ctx.sub_name("flatten"))(node)
    elif axis < len(shape) - 1:
        node = Reshape([*shape[1:axis], k], name=ctx.sub_name("flatten"))(node)
    fc = Linear(k, p.num_output, bias=p.bias_term, name=ctx.name)
    weight_shape = (k, p.num_output) if p.transpose else (p.num_output, k)
    blobs = ctx.blobs(weight_shape, *([(p.num_output,)] if p.bias_term else []))
    if blobs:
        load(fc.weight, blobs[0].T if p.transpose else blobs[0])
        if p.bias_term:
            load(fc.bias, blobs[1])
    return [Value(fc(node), (*shape[:axis], p.num_output))]


def _pooled_size(size: int, k: int, pad: int, stride: int, ceil: bool) -> int:
    """Caffe's pooled size: rounded up (or down), minus a last window starting in the end padding."""
    room = size + 2 * pad - k
    out = (-(-room // stride) if ceil else room // stride) + 1
    if pad and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@converter("Pooling")
def pooling(ctx: LayerContext) -> list[Value]:
    """MaxPool2d / AvgPool2d with Caffe's output size (ceil), or the global poolings."""
    ctx.expect_inputs(1)
    p = ctx.layer.pooling_param
    shape = ctx.shape()
    if len(shape) != 4:
        raise ctx.fail(f"only 2-D pooling of (N, C, H, W) inputs is supported, got input {shape}")
    method = pb.PoolingParameter.PoolMethod.Name(p.pool)
    if method == "STOCHASTIC":
        raise ctx.fail("STOCHASTIC pooling is not supported (only MAX and AVE)")
    if p.global_pooling:
        if p.HasField("kernel_size") or p.HasField("kernel_h"):
            raise ctx.fail("global_pooling takes no kernel size")
        layer = (GlobalMaxPool2d if method == "MAX" else GlobalAvgPool2d)(name=ctx.name)
        return [Value(ctx.apply(layer), (*shape[:2], 1, 1))]
    kernel = _hw(ctx, [p.kernel_size] if p.HasField("kernel_size") else [], _opt(p, "kernel_h"),
                 _opt(p, "kernel_w"), None, "kernel")
    pad = _hw(ctx, [p.pad] if p.HasField("pad") else [], _opt(p, "pad_h"), _opt(p, "pad_w"), 0, "pad")
    stride = _hw(ctx, [p.stride] if p.HasField("stride") else [], _opt(p, "stride_h"), _opt(p, "stride_w"), 1,
                 "stride")
    if any(pd >= k for pd, k in zip(pad, kernel)):
        raise ctx.fail(f"pad {pad} must be smaller than the kernel {kernel}")
    ceil = p.round_mode == pb.PoolingParameter.CEIL
    out = tuple(_pooled_size(size, k, pd, s, ceil) for size, k, pd, s in zip(shape[2:], kernel, pad, stride))
    for size, k, pd, s, o in zip(shape[2:], kernel, pad, stride, out):
        if o < 1 or (o - 1) * s >= size + pd:  # no padding and stride > kernel: Caffe reads an empty window
            raise ctx.fail(f"Caffe's pooling geometry for input {shape} (kernel {kernel}, stride {stride}, "
                           f"pad {pad}) has a last window outside the input; it is not supported")
    if method == "MAX":
        layer = MaxPool2d(kernel, stride, list(pad), ceil_mode=ceil, name=ctx.name)
    else:  # Caffe divides by the window's size inside the padded input: count_include_pad
        layer = AvgPool2d(kernel, stride, list(pad), ceil_mode=ceil, count_include_pad=True, name=ctx.name)
    return [Value(ctx.apply(layer), (*shape[:2], *out))]
