"""Constants and values known at import time: Constant, ConstantOfShape, Identity, Dropout, Shape, Size, Range."""
from __future__ import annotations

import numpy as np
import onnx

from bigdl_runtime import nn
from bigdl_runtime.nn.layers.graph_values import ShapeOf

from ..context import OnnxNode, Sym
from ..registry import ONNX


@ONNX.register("Constant", since=1)
def constant(node: OnnxNode) -> np.ndarray:
    """The attribute's value (tensor, or value_float/ints/... from opset 12)."""
    for key, dtype in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if node.has(key):
            value = node.attr(key)
            return np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    if node.has("sparse_value") or node.has("value_string") or node.has("value_strings"):
        raise node.error("sparse and string constants are not supported")
    raise node.error("has no value attribute")


@ONNX.register("ConstantOfShape", since=9)
def constant_of_shape(node: OnnxNode):
    fill = node.attr("value")
    fill = np.zeros(1, np.float32) if fill is None else np.asarray(fill).reshape(-1)
    if isinstance(node.value(0), Sym):  # a shape computed at run time (dynamic batch)
        return node.apply(nn.ConstantOfShape(fill[0].item(), fill.dtype.name), [node.value(0)])
    shape = [int(s) for s in node.const(0, "shape")]
    node.ctx.check_size(shape, fill.dtype, node.where)
    return np.full(shape, fill[0], dtype=fill.dtype)


@ONNX.register("Identity", since=1)
def identity(node: OnnxNode):
    return node.value(0)


@ONNX.register("Dropout", since=7)
def dropout(node: OnnxNode):
    """Inference: the identity (and an all-true mask). Training-mode dropout inputs must be constant false."""
    training = node.const(2, "training_mode")
    if training is not None and bool(np.asarray(training).reshape(-1)[0]):
        raise node.error("training_mode=true is not supported (an imported model runs dropout as identity)")
    x = node.value(0)
    if len([o for o in node.outputs if o]) < 2:
        return x
    if not isinstance(x, Sym):
        return [x, np.ones(np.shape(x), dtype=bool)]
    shape = node.apply(ShapeOf(), [x], suffix="/shape")
    return [x, node.apply(nn.ConstantOfShape(True, "bool"), [shape], suffix="/mask")]


def _static(shape: tuple | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


@ONNX.register("Shape", since=1)
def shape(node: OnnxNode):
    """Folded when the input's shape is static; else a run-time ShapeOf layer."""
    start, end = int(node.attr("start", 0)), node.attr("end")
    s = node.shape(0)
    if _static(s):
        return np.array(s, dtype=np.int64)[start:end]
    return node.apply(ShapeOf(start, end), [node.value(0)])


@ONNX.register("Size", since=1)
def size(node: OnnxNode):
    s = node.shape(0)
    if _static(s):
        return np.array(int(np.prod(s, dtype=np.int64)), dtype=np.int64)
    dims = node.apply(ShapeOf(), [node.value(0)], suffix="/shape")
    return node.apply(nn.ReduceProd(None, keepdim=False), [dims])


@ONNX.register("Range", since=11)
def range_(node: OnnxNode):
    if any(isinstance(node.value(i), Sym) for i in range(3)):
        return node.apply(nn.Range(), [node.value(i) for i in range(3)])
    # scalars by the spec; one-element tensors (as some function bodies pass) are taken as scalars too
    start, limit, delta = (np.asarray(node.const(i, n)).reshape(()) for i, n in enumerate(("start", "limit", "delta")))
    if delta == 0:
        raise node.error("delta is 0")
    count = max(int(np.ceil((limit - start) / delta)), 0)
    node.ctx.check_size([count], start.dtype, node.where)
    return (start + np.arange(count, dtype=start.dtype) * delta).astype(start.dtype)


@ONNX.register("Cast", since=6)
def cast(node: OnnxNode):
    """Folded on constants, else a run-time Cast layer."""
    return _cast_to(node, np.dtype(onnx.helper.tensor_dtype_to_np_dtype(int(node.attr("to")))))


@ONNX.register("CastLike", since=15)
def cast_like(node: OnnxNode):
    """Cast to the dtype of input 1 (known at import time from its value or from shape inference)."""
    target = node.value(1)
    to = target.dtype if isinstance(target, Sym) else np.asarray(target).dtype
    if to is None:
        raise node.error(f"the dtype of input 1 ({node.inputs[1]!r}) is unknown (give the graph inputs types)")
    return _cast_to(node, np.dtype(to))


def _cast_to(node: OnnxNode, to: np.dtype):
    x = node.value(0)
    if not isinstance(x, Sym):
        return np.asarray(x).astype(to)
    if x.dtype is not None and x.dtype == to:
        return x
    return node.apply(nn.Cast(to.name), [x])
