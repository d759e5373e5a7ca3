"""DeformConv (2-D) composed of existing layers: offsets -> sampling grid -> GridSample per offset group
-> mask -> a grouped 1x1 Conv2d holding the weights.

Each output position ``(oh, ow)`` and kernel tap ``(i, j)`` reads the input bilinearly at
``(oh * stride - pad + i * dilation + dy, ow * stride - pad + j * dilation + dx)`` (zeros
outside, as torchvision's ``deform_conv2d``), times the tap's mask; the convolution of those
columns with the weights is a 1x1 convolution over ``C * kh * kw`` channels. Every piece is
differentiable, so the weights, the input, the offsets and the mask all get gradients.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn.layers.graph_values import ReshapeTo

from ..context import OnnxNode
from ..registry import ONNX
from .spatial import ints


def _static(node: OnnxNode, i: int) -> list[int]:
    shape = node.shape(i)
    if shape is None or None in shape:
        raise node.error(f"needs a static shape for input {i}, got {shape}")
    return [int(d) for d in shape]


@ONNX.register("DeformConv", since=19)
def deform_conv(node: OnnxNode):
    n, channels, height, width = _static(node, 0)
    weight = np.asarray(node.const(1, "W (the weights)"))
    if weight.ndim != 4:
        raise node.error(f"only 2-D deformable convolutions are supported; the weight has shape {weight.shape}")
    out_h, out_w = _static(node, 2)[2:]
    kh, kw = weight.shape[2:]
    taps, groups = kh * kw, int(node.attr("offset_group", 1))
    strides, dilations = ints(node, "strides", 2, 1), ints(node, "dilations", 2, 1)
    pads = [int(p) for p in node.attr("pads", [0] * 4)]

    def add(layer, inputs, suffix):
        return node.apply(layer, inputs, suffix=f"/{suffix}")

    # sampling positions -> grid_sample's normalised coordinates ((2 * pos + 1) / size - 1, align_corners=False)
    offset = add(ReshapeTo(), [node.value(2), np.array([n, groups, taps, 2, out_h, out_w])], "offsets")
    tap_i, tap_j = np.divmod(np.arange(taps), kw)
    base_y = (np.arange(out_h)[None, :] * strides[0] - pads[0] + tap_i[:, None] * dilations[0])[:, :, None]
    base_x = (np.arange(out_w)[None, :] * strides[1] - pads[1] + tap_j[:, None] * dilations[1])[:, None, :]
    coords = []
    for part, base, size in ((1, base_x, width), (0, base_y, height)):  # grid order: x, then y
        shift = add(nn.Gather(3), [offset, np.array(part)], f"d{'yx'[part]}")
        pos = add(nn.Add(), [shift, base.astype(np.float32)], f"{'yx'[part]}")
        scaled = add(nn.Mul(), [pos, np.float32(2.0 / size)], f"{'yx'[part]}_scaled")
        coords.append(add(nn.Unsqueeze(-1), [add(nn.Add(), [scaled, np.float32(1.0 / size - 1)],
                                                  f"{'yx'[part]}_grid")], f"{'yx'[part]}_last"))
    grid = add(nn.Concat(-1), coords, "grid")  # (N, G, K, oH, oW, 2)
    mask = None if not node.given(4) else \
        add(ReshapeTo(), [node.value(4), np.array([n, groups, taps * out_h, out_w])], "mask")
    per_group = channels // groups
    columns = []
    for g in range(groups):
        grid_g = add(ReshapeTo(), [add(nn.Gather(1), [grid, np.array(g)], f"grid{g}"),
                                   np.array([n, taps * out_h, out_w, 2])], f"grid{g}_2d")
        x_g = add(nn.Slice([g * per_group], [(g + 1) * per_group], axes=[1]), [node.value(0)], f"x{g}")
        sampled = add(nn.GridSample("linear", "zeros", align_corners=False), [x_g, grid_g], f"sampled{g}")
        if mask is not None:
            mask_g = add(nn.Unsqueeze(1), [add(nn.Gather(1), [mask, np.array(g)], f"mask{g}")], f"mask{g}_c")
            sampled = add(nn.Mul(), [sampled, mask_g], f"masked{g}")
        columns.append(sampled)
    cols = columns[0] if groups == 1 else add(nn.Concat(1), columns, "columns")  # (N, C, K * oH, oW)
    cols = add(ReshapeTo(), [cols, np.array([n, channels * taps, out_h, out_w])], "im2col")
    conv_groups = int(node.attr("group", 1))
    bias = node.const(3, "B (the bias)")
    conv = nn.Conv2d(channels * taps, weight.shape[0], 1, groups=conv_groups, bias=bias is not None)
    conv.weight.data[...] = weight.reshape(weight.shape[0], -1, 1, 1)
    if bias is not None:
        conv.bias.data[...] = bias
    return node.apply(conv, [cols])
