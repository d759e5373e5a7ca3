"""Quantised operators: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, ConvInteger,
QLinearMatMul, QLinearConv.

(onnxruntime's com.microsoft QuantizeLinear and DequantizeLinear are the same operators.) Only 8- and
16-bit integer quantised types are supported; a zero point left out is a zero of the
type the operator implies.
"""
from __future__ import annotations

import numpy as np
import onnx

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX
from .spatial import ints, pads


def _dtype(node: OnnxNode, i: int) -> np.dtype | None:
    value = node.value(i)
    return value.dtype if isinstance(value, Sym) else (None if value is None else np.asarray(value).dtype)


def _zero_point(node: OnnxNode, i: int, like: int):
    """Input ``i`` (a zero point), or a zero of input ``like``'s type when it is left out."""
    if node.given(i):
        return node.value(i)
    dtype = _dtype(node, like)
    if dtype is None:
        raise node.error(f"the type of input {like} is unknown, so the missing zero point {i} cannot be made")
    return np.zeros((), dtype)


@ONNX.register("QuantizeLinear", since=1, domain="com.microsoft")  # onnxruntime's older quantised exports
@ONNX.register("QuantizeLinear", since=10)
def quantize_linear(node: OnnxNode):
    output_dtype = int(node.attr("output_dtype", 0))
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(output_dtype)) if output_dtype else np.dtype(np.uint8)
    layer = nn.QuantizeLinear(int(node.attr("axis", 1)), int(node.attr("block_size", 0)), str(dtype))
    return node.apply(layer, [node.value(i) for i in range(node.n_inputs())])


@ONNX.register("DequantizeLinear", since=1, domain="com.microsoft")
@ONNX.register("DequantizeLinear", since=10)
def dequantize_linear(node: OnnxNode):
    layer = nn.DequantizeLinear(int(node.attr("axis", 1)), int(node.attr("block_size", 0)))
    return node.apply(layer, [node.value(i) for i in range(node.n_inputs())])


@ONNX.register("DynamicQuantizeLinear", since=11)
def dynamic_quantize_linear(node: OnnxNode):
    """One layer (onnxruntime's kernel: scale 1 for an all-zero input) instead of the ONNX function's nodes."""
    return list(node.apply(nn.DynamicQuantizeLinear(), [node.value(0)], n_outputs=3))


@ONNX.register("MatMulInteger", since=10)
def matmul_integer(node: OnnxNode):
    inputs = [node.value(0), node.value(1), _zero_point(node, 2, 0), _zero_point(node, 3, 1)]
    return node.apply(nn.MatMulInteger(), inputs)


def _conv_config(node: OnnxNode, w_index: int) -> dict:
    shape = node.shape(w_index)
    if shape is None or len(shape) != 4:
        raise node.error(f"only 2-D quantised convolutions are supported; the weight has shape {shape}")
    kernel = [int(k) for k in shape[2:]]
    strides, dilations = ints(node, "strides", 2, 1), ints(node, "dilations", 2, 1)
    return dict(stride=strides, padding=pads(node, kernel, strides, dilations), dilation=dilations,
                groups=int(node.attr("group", 1)))


@ONNX.register("ConvInteger", since=10)
def conv_integer(node: OnnxNode):
    inputs = [node.value(0), node.value(1), _zero_point(node, 2, 0), _zero_point(node, 3, 1)]
    return node.apply(nn.ConvInteger(**_conv_config(node, 1)), inputs)


@ONNX.register("QLinearMatMul", since=10)
def qlinear_matmul(node: OnnxNode):
    return node.apply(nn.QLinearMatMul(), [node.value(i) for i in range(8)])


@ONNX.register("QLinearConv", since=10)
def qlinear_conv(node: OnnxNode):
    return node.apply(nn.QLinearConv(**_conv_config(node, 3)), [node.value(i) for i in range(node.n_inputs())])
