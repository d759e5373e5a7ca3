"""Resize and Upsample of NCHW maps onto :class:`Upsample` (nearest or bilinear).

Supported sampling: nearest with ``asymmetric`` coordinates and ``floor`` rounding
(PyTorch's nearest) at any scale, or with half-pixel coordinates at integer
up-scales (the same pixels); linear with ``half_pixel`` / ``pytorch_half_pixel``
(align_corners=False) or ``align_corners``.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


def _spatial_scales(node: OnnxNode, scales: np.ndarray) -> list[float]:
    scales = [float(s) for s in np.asarray(scales).reshape(-1)]
    if len(scales) != 4 or scales[0] != 1.0 or scales[1] != 1.0:
        raise node.error(f"scales {scales} must be 4 values with 1 for the batch and channel axes")
    return scales[2:]


def _layer(node: OnnxNode, mode: str, ctm: str, nearest_mode: str, scales: list[float] | None,
           sizes: list[int] | None) -> nn.Upsample:
    args = dict(scale_factor=scales) if sizes is None else dict(size=sizes)
    if mode == "nearest":
        integer_up = scales is not None and all(s >= 1 and float(s).is_integer() for s in scales)
        if sizes is not None:
            shape = node.shape(0)
            integer_up = shape is not None and all(d is not None and o % d == 0 and o >= d
                                                   for d, o in zip(shape[2:], sizes))
        if (ctm, nearest_mode) == ("asymmetric", "floor") or (
                integer_up and ctm in ("half_pixel", "pytorch_half_pixel") and nearest_mode.startswith("round")):
            return nn.Upsample(mode="nearest", **args)
        raise node.error(f"nearest resizing with coordinate_transformation_mode={ctm!r} and "
                         f"nearest_mode={nearest_mode!r} at scales {scales or sizes} is not supported")
    if mode in ("linear", "bilinear"):
        single = (sizes is not None and min(sizes) == 1) or (scales is not None and node.shape(0) is not None and any(
            d is not None and int(d * s) == 1 for d, s in zip(node.shape(0)[2:], scales)))
        if ctm == "half_pixel" or (ctm == "pytorch_half_pixel" and not single):
            return nn.Upsample(mode="bilinear", align_corners=False, **args)
        if ctm == "align_corners" and not single:
            return nn.Upsample(mode="bilinear", align_corners=True, **args)
        raise node.error(f"linear resizing with coordinate_transformation_mode={ctm!r} is not supported")
    raise node.error(f"resize mode {mode!r} is not supported (nearest and linear are)")


@ONNX.register("Resize", since=10)
def resize(node: OnnxNode):
    rank = node.rank(0)
    if rank is not None and rank != 4:
        raise node.error(f"only (N, C, H, W) inputs are supported, the input has rank {rank}")
    if int(node.attr("antialias", 0)) or node.attr("axes") is not None:
        raise node.error("antialias and axes are not supported")
    if node.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise node.error("keep_aspect_ratio_policy other than 'stretch' is not supported")
    mode = node.attr("mode", "nearest")
    ctm = node.attr("coordinate_transformation_mode", "half_pixel" if node.ctx.opset >= 11 else "asymmetric")
    nearest_mode = node.attr("nearest_mode", "round_prefer_floor" if node.ctx.opset >= 11 else "floor")
    if node.ctx.opset < 11:
        scales, sizes = node.const(1, "scales"), None
    else:
        scales, sizes = node.const(2, "scales"), node.const(3, "sizes")
    if sizes is not None and np.size(sizes):
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        shape = node.shape(0)
        if len(sizes) != 4 or shape is None or list(shape[:2]) != sizes[:2]:
            raise node.error(f"sizes {sizes} must be 4 values keeping the batch and channel sizes")
        layer = _layer(node, mode, ctm, nearest_mode, None, sizes[2:])
    elif scales is not None and np.size(scales):
        layer = _layer(node, mode, ctm, nearest_mode, _spatial_scales(node, scales), None)
    else:
        raise node.error("neither scales nor sizes is given")
    return node.apply(layer, [node.value(0)])


@ONNX.register("Upsample", since=7)
def upsample(node: OnnxNode):
    scales = node.attr("scales") if node.ctx.opset < 9 else node.const(1, "scales")
    mode = node.attr("mode", "nearest")
    layer = _layer(node, mode, "asymmetric", "floor", _spatial_scales(node, scales), None)
    return node.apply(layer, [node.value(0)])
