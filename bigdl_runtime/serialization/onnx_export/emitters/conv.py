"""Conv1d, Conv2d, ConvReLU2d and ConvTranspose2d as ONNX Conv (+ Relu) / ConvTranspose (weights in the
same layout)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ....nn.layers.conv import Conv1d, Conv2d, ConvReLU2d, ConvTranspose2d
from ..context import ExportContext, Value
from ..dispatch import emits


def onnx_pads(padding: int | Sequence[int], n: int) -> list[int]:
    """ONNX ``pads`` (begins then ends) from an int, n symmetric ints or 2n ints (begin..., end...)."""
    if isinstance(padding, (int, np.integer)):
        return [int(padding)] * 2 * n
    vals = [int(p) for p in padding]
    return vals * 2 if len(vals) == n else vals


def _weights(ctx: ExportContext, layer: Conv1d | Conv2d | ConvTranspose2d, name: str) -> list[str]:
    names = [ctx.weight(f"{name}.weight", layer.weight.data)]
    if layer.bias is not None:
        names.append(ctx.weight(f"{name}.bias", layer.bias.data))
    return names


def _conv_node(ctx: ExportContext, layer: Conv1d | Conv2d, x: str, name: str, node_name: str) -> str:
    """A Conv node on ``x`` with the layer's weights as initializers named after ``name``."""
    pads = onnx_pads(layer._kernel_config()["padding"], layer._spatial)
    return ctx.one("Conv", [x, *_weights(ctx, layer, name)], node_name, kernel_shape=layer.kernel_size,
                   strides=layer.stride, pads=pads, dilations=layer.dilation, group=layer.groups)


@emits(Conv1d, Conv2d)
def conv(ctx: ExportContext, layer: Conv1d | Conv2d, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return _conv_node(ctx, layer, inputs[0].name, name, name)


@emits(ConvReLU2d)
def conv_relu(ctx: ExportContext, layer: ConvReLU2d, inputs: list[Value], output: np.ndarray, name: str) -> str:
    conv_out = _conv_node(ctx, layer, inputs[0].name, name, f"{name}/conv")
    if layer.max_value is None:
        return ctx.one("Relu", [conv_out], name)
    return ctx.one("Clip", [conv_out, ctx.scalar(f"{name}.min", 0.0), ctx.scalar(f"{name}.max", layer.max_value)], name)


@emits(ConvTranspose2d)
def conv_transpose(ctx: ExportContext, layer: ConvTranspose2d, inputs: list[Value], output: np.ndarray,
                   name: str) -> str:
    return ctx.one("ConvTranspose", [inputs[0].name, *_weights(ctx, layer, name)], name,
                   kernel_shape=layer.kernel_size, strides=layer.stride, pads=onnx_pads(layer.padding, 2),
                   output_padding=layer.output_padding, dilations=layer.dilation, group=layer.groups)
