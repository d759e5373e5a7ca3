"""Indicator outputs: Hardmax, OneHot, NonZero, Unique; EyeLike (a constant of the input's static shape)."""
from __future__ import annotations

import numpy as np
import onnx

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX


@ONNX.register("Hardmax", since=13)
def hardmax(node: OnnxNode):
    return node.apply(nn.Hardmax(int(node.attr("axis", -1))), [node.value(0)])


@ONNX.register("OneHot", since=9)
def one_hot(node: OnnxNode):
    depth = int(np.asarray(node.const(1, "depth")).reshape(-1)[0])
    values = np.asarray(node.const(2, "values")).reshape(-1)
    if values.size != 2:
        raise node.error(f"values must hold [off, on], got {values.size} values")
    layer = nn.OneHot(depth, values[0].item(), values[1].item(), str(values.dtype), int(node.attr("axis", -1)))
    return node.apply(layer, [node.value(0)])


@ONNX.register("NonZero", since=9)
def nonzero(node: OnnxNode):
    return node.apply(nn.NonZero(), [node.value(0)])


@ONNX.register("Unique", since=11)
def unique(node: OnnxNode):
    axis = node.attr("axis")
    layer = nn.Unique(None if axis is None else int(axis), bool(node.attr("sorted", 1)))
    return list(node.apply(layer, [node.value(0)], n_outputs=4))


@ONNX.register("EyeLike", since=9)
def eye_like(node: OnnxNode):
    """A constant: ones on the ``k``-th diagonal of a 2-D shape (the input's, which must be static)."""
    shape = node.shape(0)
    if shape is None or len(shape) != 2 or None in shape:
        raise node.error(f"needs a static 2-D input shape, got {shape}")
    x = node.value(0)
    dtype = node.attr("dtype")
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(dtype))) if dtype is not None else \
        np.dtype(x.dtype if isinstance(x, Sym) and x.dtype is not None else np.asarray(x).dtype)
    return np.eye(shape[0], shape[1], int(node.attr("k", 0)), dtype=dtype)
