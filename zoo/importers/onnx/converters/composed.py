"""Operators composed of existing layers: LpNormalization, Trilu, Compress, ReverseSequence, TensorScatter.

Each is a small graph of differentiable layers (Where with a constant mask, Gather or
GatherElements with constant indices, reductions), so imported models keep their gradients.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn.layers.graph_values import ReshapeTo

from ..context import OnnxNode, Sym
from ..registry import ONNX


def _static_shape(node: OnnxNode, i: int = 0) -> tuple[int, ...]:
    shape = node.shape(i)
    if shape is None or None in shape:
        raise node.error(f"needs a static shape for input {i}, got {shape}")
    return tuple(int(d) for d in shape)


def _dtype(node: OnnxNode, i: int = 0) -> np.dtype:
    value = node.value(i)
    dtype = value.dtype if isinstance(value, Sym) else np.asarray(value).dtype
    if dtype is None:
        raise node.error(f"the type of input {i} is unknown (give the graph inputs types)")
    return np.dtype(dtype)


@ONNX.register("LpNormalization", since=1)
def lp_normalization(node: OnnxNode):
    """``x / ||x||_p`` along ``axis``: (Abs or Mul) -> ReduceSum (kept) -> (Sqrt) -> Maximum(tiny) -> Div."""
    p, axis, x = int(node.attr("p", 2)), int(node.attr("axis", -1)), node.value(0)
    if p not in (1, 2):
        raise node.error(f"p must be 1 or 2, got {p}")
    powered = node.apply(nn.Abs() if p == 1 else nn.Mul(), [x] if p == 1 else [x, x], suffix="/power")
    norm = node.apply(nn.ReduceSum([axis], keepdim=True), [powered], suffix="/sum")
    if p == 2:
        norm = node.apply(nn.Sqrt(), [norm], suffix="/sqrt")
    # an all-zero slice stays zero (0 / tiny), as onnxruntime gives
    norm = node.apply(nn.Maximum(), [norm, np.array(np.finfo(_dtype(node)).tiny, _dtype(node))], suffix="/nonzero")
    return node.apply(nn.Div(), [x, norm])


@ONNX.register("Trilu", since=14)
def trilu(node: OnnxNode):
    """Where(mask, x, 0) with the constant triangular mask of the input's last two (static) axes."""
    rows, cols = _static_shape(node)[-2:]
    k = int(np.asarray(node.const(1, "k", default=0)).reshape(-1)[0])
    ones = np.ones((rows, cols), bool)
    mask = np.triu(ones, k) if int(node.attr("upper", 1)) else np.tril(ones, k)
    return node.apply(nn.Where(), [mask, node.value(0), np.zeros((), _dtype(node))])


@ONNX.register("Compress", since=9)
def compress(node: OnnxNode):
    """The slices (or, without ``axis``, the flattened elements) where the constant condition is true: a Gather."""
    keep = np.flatnonzero(np.asarray(node.const(1, "condition")).astype(bool))
    x, axis = node.value(0), node.attr("axis")
    if axis is None:
        x = node.apply(ReshapeTo(), [x, np.array([-1], np.int64)], suffix="/flatten")
        axis = 0
    size = _static_shape(node)[int(axis)] if node.attr("axis") is not None else int(np.prod(_static_shape(node)))
    return node.apply(nn.Gather(int(axis)), [x, keep[keep < size]])


@ONNX.register("ReverseSequence", since=10)
def reverse_sequence(node: OnnxNode):
    """GatherElements along ``time_axis`` with the constant indices that reverse each batch entry's first steps."""
    shape = _static_shape(node)
    lengths = np.asarray(node.const(1, "sequence_lens")).astype(np.int64)
    batch_axis, time_axis = int(node.attr("batch_axis", 1)), int(node.attr("time_axis", 0))
    steps = np.arange(shape[time_axis])
    view = [1] * len(shape)
    view[time_axis] = shape[time_axis]
    time = steps.reshape(view)
    view = [1] * len(shape)
    view[batch_axis] = shape[batch_axis]
    length = lengths.reshape(view)
    indices = np.broadcast_to(np.where(time < length, length - 1 - time, time), shape).copy()
    return node.apply(nn.GatherElements(time_axis), [node.value(0), indices])


@ONNX.register("TensorScatter", since=24)
def tensor_scatter(node: OnnxNode):
    """ScatterElements of the update along ``axis`` at each batch entry's (constant) write index onwards."""
    cache_shape, update_shape = _static_shape(node, 0), _static_shape(node, 1)
    axis = int(node.attr("axis", -2)) % len(cache_shape)
    starts = node.const(2, "write_indices", default=np.zeros(cache_shape[0], np.int64))
    view = [1] * len(update_shape)
    view[0] = cache_shape[0]
    steps = [1] * len(update_shape)
    steps[axis] = update_shape[axis]
    positions = np.asarray(starts, np.int64).reshape(view) + np.arange(update_shape[axis]).reshape(steps)
    if node.attr("mode", "linear") == "circular":
        positions %= cache_shape[axis]
    indices = np.broadcast_to(positions, update_shape).copy()
    return node.apply(nn.ScatterElements(axis), [node.value(0), indices, node.value(1)])
