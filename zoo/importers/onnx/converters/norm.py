"""BatchNormalization (inference statistics), LayerNormalization, InstanceNormalization and LRN."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


@ONNX.register("BatchNormalization", since=7)
def batch_norm(node: OnnxNode):
    """Y = scale * (X - mean) / sqrt(var + epsilon) + B, with the stored mean and variance."""
    if len([o for o in node.outputs if o]) > 1 or int(node.attr("training_mode", 0)):
        raise node.error("training-mode BatchNormalization (running statistics outputs) is not supported")
    if int(node.attr("spatial", 1)) != 1:
        raise node.error("spatial=0 (per-activation statistics) is not supported")
    scale, bias, mean, var = (np.asarray(node.const(i, n)) for i, n in
                              enumerate(("scale", "B", "input_mean", "input_var"), start=1))
    eps, momentum = float(node.attr("epsilon", 1e-5)), float(node.attr("momentum", 0.9))
    rank = node.rank(0)
    x = node.value(0)
    if rank in (2, 3, 4):
        cls = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d
        layer = cls(scale.size, eps=eps, momentum=1.0 - momentum)
        layer.weight.data[...] = scale
        layer.bias.data[...] = bias
        layer.running_mean[...] = mean
        layer.running_var[...] = var
        return node.apply(layer, [x])
    # other ranks: the same affine map, per channel (axis 1)
    r = node.need_rank(0)
    shape = (-1,) + (1,) * (r - 2)
    mul = (scale / np.sqrt(var + eps)).astype(scale.dtype)
    add = (bias - mean * mul).astype(scale.dtype)
    y = node.apply(nn.Mul(), [x, mul.reshape(shape)], suffix="/scale")
    return node.apply(nn.Add(), [y, add.reshape(shape)], suffix="/shift")


@ONNX.register("LayerNormalization", since=1)  # onnxruntime's contrib operator of the default domain, until 17
def layer_norm(node: OnnxNode):
    rank = node.need_rank(0)
    axis = int(node.attr("axis", -1))
    axis = axis + rank if axis < 0 else axis
    shape = node.shape(0)
    scale = np.asarray(node.const(1, "Scale"))
    bias = node.const(2, "B")
    trailing = list(shape[axis:])
    if any(d is None for d in trailing):
        if scale.ndim != rank - axis:
            raise node.error("the normalised dimensions must be static or given by Scale's shape")
        trailing = list(scale.shape)
    layer = nn.LayerNorm(trailing, eps=float(node.attr("epsilon", 1e-5)))
    layer.weight.data[...] = np.broadcast_to(scale, trailing)
    layer.bias.data[...] = 0 if bias is None else np.broadcast_to(bias, trailing)
    y = node.apply(layer, [node.value(0)])
    if len(node.outputs) == 1:
        return y
    return [y, *_moments(node, list(range(axis, rank)), float(node.attr("epsilon", 1e-5)))]


def _moments(node: OnnxNode, axes: list[int], eps: float) -> list:
    """LayerNormalization's optional outputs: the mean and 1 / sqrt(variance + epsilon) over ``axes``."""
    x = node.value(0)
    mean = node.apply(nn.ReduceMean(axes, keepdim=True), [x], suffix="/mean")
    centered = node.apply(nn.Sub(), [x, mean], suffix="/centered")
    square = node.apply(nn.Mul(), [centered, centered], suffix="/square")
    var = node.apply(nn.ReduceMean(axes, keepdim=True), [square], suffix="/variance")
    shifted = node.apply(nn.Add(), [var, np.asarray(eps, dtype=np.float32)], suffix="/plus_eps")
    std = node.apply(nn.Sqrt(), [shifted], suffix="/std")
    return [mean, node.apply(nn.Reciprocal(), [std], suffix="/inv_std")]


@ONNX.register("InstanceNormalization", since=6)
def instance_norm(node: OnnxNode):
    scale, bias = np.asarray(node.const(1, "scale")), np.asarray(node.const(2, "B"))
    layer = nn.InstanceNorm(scale.size, eps=float(node.attr("epsilon", 1e-5)), affine=True)
    layer.weight.data[...] = scale
    layer.bias.data[...] = bias
    return node.apply(layer, [node.value(0)])


@ONNX.register("LRN", since=1)
def lrn(node: OnnxNode):
    layer = nn.LocalResponseNorm(int(node.attr("size")), alpha=float(node.attr("alpha", 1e-4)),
                                 beta=float(node.attr("beta", 0.75)), k=float(node.attr("bias", 1.0)))
    return node.apply(layer, [node.value(0)])
