"""QuantizedConv2d and QuantizedLinear in ONNX's QDQ format: QuantizeLinear + DequantizeLinear on the input,
DequantizeLinear on the int8 weight (per output channel), then the float Conv / Gemm / MatMul with the float
bias and the fused Relu / Clip; onnxruntime runs it (and fuses what it can into its int8 kernels).

A layer's requantised uint8 output (``output_scale``) is not written: the next int8 layer's QuantizeLinear
has the same scale and zero point, so exporting the float value there gives the same uint8 values (through a
max pool too: max commutes with the quantisation). For the same reason a Dequantize (a float consumer's view
of a uint8 value) is QuantizeLinear + DequantizeLinear of the float value. QuantizedConvAdd2d is the QDQ
Conv, then an Add of the residual quantised and dequantised with the layer's ``addend_*`` (QDQ Add), then
the ReLU.
"""
from __future__ import annotations

import numpy as np

from ....nn.layers.int8 import Dequantize, QuantizedConv2d, QuantizedConvAdd2d, QuantizedLinear, _Int8Layer
from ..context import ExportContext, Value
from ..dispatch import emits
from .conv import onnx_pads


def _qdq(ctx: ExportContext, x: str, scale: float, zero_point: int, name: str, what: str) -> str:
    """x quantised to uint8 with (scale, zero_point) and dequantised again."""
    s = ctx.scalar(f"{name}.{what}_scale", scale)
    zp = ctx.weight(f"{name}.{what}_zero_point", np.asarray(zero_point, np.uint8), np.uint8)
    q = ctx.one("QuantizeLinear", [x, s, zp], f"{name}/quantize_{what}")
    return ctx.one("DequantizeLinear", [q, s, zp], f"{name}/dequantize_{what}")


def _input(ctx: ExportContext, layer: _Int8Layer, x: str, name: str) -> str:
    """x quantised to uint8 and dequantised again (the input's quantisation, as QDQ)."""
    return _qdq(ctx, x, layer.input_scale, layer.input_zero_point, name, "input")


def _weight(ctx: ExportContext, layer: _Int8Layer, name: str, transpose: bool = False) -> str:
    """The int8 weight (an int8 initializer) dequantised per output channel."""
    weight = layer.weight.T if transpose else layer.weight
    q = ctx.weight(f"{name}.weight_int8", weight, np.int8)
    scale = ctx.weight(f"{name}.weight_scale", layer.weight_scale)
    zero_point = ctx.weight(f"{name}.weight_zero_point", np.zeros(layer.weight_scale.size, np.int8), np.int8)
    return ctx.one("DequantizeLinear", [q, scale, zero_point], f"{name}/dequantize_weight",
                   axis=1 if transpose else 0)


def _activation(ctx: ExportContext, layer: _Int8Layer, y: str, name: str) -> str:
    if not layer.relu:
        return y
    if layer.max_value is None:
        return ctx.one("Relu", [y], name)
    return ctx.one("Clip", [y, ctx.scalar(f"{name}.min", 0.0), ctx.scalar(f"{name}.max", layer.max_value)], name)


def _bias(ctx: ExportContext, layer: _Int8Layer, name: str) -> list[str]:
    return [] if layer.bias is None else [ctx.weight(f"{name}.bias", layer.bias)]


def _conv(ctx: ExportContext, layer: QuantizedConv2d, x: str, name: str, out: str) -> str:
    pads = onnx_pads(layer.kernel_padding(), 2)
    return ctx.one("Conv", [_input(ctx, layer, x, name), _weight(ctx, layer, name), *_bias(ctx, layer, name)], out,
                   kernel_shape=layer.kernel_size, strides=layer.stride, pads=pads, dilations=layer.dilation,
                   group=layer.groups)


@emits(QuantizedConv2d)
def quantized_conv(ctx: ExportContext, layer: QuantizedConv2d, inputs: list[Value], output: np.ndarray,
                   name: str) -> str:
    y = _conv(ctx, layer, inputs[0].name, name, f"{name}/conv" if layer.relu else name)
    return _activation(ctx, layer, y, name)


@emits(QuantizedConvAdd2d)
def quantized_conv_add(ctx: ExportContext, layer: QuantizedConvAdd2d, inputs: list[Value], output: np.ndarray,
                       name: str) -> str:
    y = _conv(ctx, layer, inputs[0].name, name, f"{name}/conv")
    residual = _qdq(ctx, inputs[1].name, layer.addend_scale, layer.addend_zero_point, name, "addend")
    y = ctx.one("Add", [y, residual], f"{name}/add" if layer.relu else name)
    return _activation(ctx, layer, y, name)


@emits(Dequantize)
def dequantize(ctx: ExportContext, layer: Dequantize, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return _qdq(ctx, inputs[0].name, layer.scale, layer.zero_point, name, "value")


@emits(QuantizedLinear)
def quantized_linear(ctx: ExportContext, layer: QuantizedLinear, inputs: list[Value], output: np.ndarray,
                     name: str) -> str:
    x = _input(ctx, layer, inputs[0].name, name)
    product = f"{name}/matmul" if layer.relu else name
    if inputs[0].rank == 2:
        y = ctx.one("Gemm", [x, _weight(ctx, layer, name), *_bias(ctx, layer, name)], product, transB=1)
    elif layer.bias is None:
        y = ctx.one("MatMul", [x, _weight(ctx, layer, name, transpose=True)], product)
    else:
        mm = ctx.one("MatMul", [x, _weight(ctx, layer, name, transpose=True)], f"{name}/matmul_nobias")
        y = ctx.one("Add", [mm, *_bias(ctx, layer, name)], product)
    return _activation(ctx, layer, y, name)
