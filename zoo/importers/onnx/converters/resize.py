"""Resize and Upsample.

When the sampling is one our :class:`Upsample` layer implements (nearest with
asymmetric/floor coordinates, or half-pixel rounding at integer up-scales; bilinear
with half-pixel or align-corners coordinates) on an NCHW input, that layer is used
and the spatial size may vary at run time. Every other nearest, linear or cubic
resize of the last two axes, with any coordinate transformation (including
tf_crop_and_resize) and antialiasing, becomes constant interpolation matrices
applied by MatMul layers, which needs the input's spatial size at import time.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode, Sym
from ..registry import ONNX
from .resize_matrix import interpolation_matrix, output_size, source_coordinates


def _plan(node: OnnxNode, scales, sizes, axes: list[int], rank: int) -> tuple[list[float], list[int] | None]:
    """Per-axis scales (and output sizes when given or computable) over all ``rank`` axes."""
    shape = node.shape(0)
    full_scales, full_sizes = [1.0] * rank, None
    if sizes is not None:
        sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
        if len(sizes) != len(axes) or shape is None or any(shape[a] is None for a in axes):
            raise node.error(f"sizes {sizes} need static input dimensions on the resized axes {axes}")
        full_sizes = list(shape)
        ratios = [sizes[i] / shape[a] for i, a in enumerate(axes)]
        policy = node.attr("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            ratio = min(ratios) if policy == "not_larger" else max(ratios)
            ratios = [ratio] * len(axes)
            sizes = [int(ratio * shape[a] + 0.5) for a in axes]
        for i, a in enumerate(axes):
            full_scales[a], full_sizes[a] = ratios[i], sizes[i]
        return full_scales, full_sizes
    values = [float(v) for v in np.asarray(scales).reshape(-1)]
    if len(values) != len(axes):
        raise node.error(f"{len(values)} scales for {len(axes)} axes")
    for i, a in enumerate(axes):
        full_scales[a] = values[i]
    if shape is not None and all(d is not None for d in shape):
        full_sizes = [output_size(int(d), s) for d, s in zip(shape, full_scales)]
    return full_scales, full_sizes


def _upsample_layer(node: OnnxNode, mode: str, ctm: str, nearest_mode: str, scales: list[float],
                    sizes: list[int] | None, rank: int) -> nn.Upsample | None:
    """Our Upsample layer when it computes exactly this resize, else None."""
    if rank != 4 or scales[:2] != [1.0, 1.0] or (sizes is not None and min(sizes[2:]) <= 1):
        return None
    spatial = scales[2:]
    args = dict(scale_factor=spatial) if sizes is None else dict(size=sizes[2:])
    if mode == "nearest":
        integer_up = all(s >= 1 and float(s).is_integer() for s in spatial)
        if (ctm, nearest_mode) == ("asymmetric", "floor") or (
                integer_up and ctm in ("half_pixel", "pytorch_half_pixel") and nearest_mode.startswith("round")):
            return nn.Upsample(mode="nearest", **args)
    elif mode == "linear" and (ctm in ("half_pixel", "pytorch_half_pixel") or (
            ctm == "align_corners" and (sizes is not None or _whole_outputs(node, spatial)))):
        return nn.Upsample(mode="bilinear", align_corners=ctm == "align_corners", **args)
    return None


def _whole_outputs(node: OnnxNode, spatial: list[float]) -> bool:
    """Whether ``in * scale`` is a whole number on both spatial axes (align_corners then uses the output size)."""
    shape = node.shape(0)
    if shape is None or any(d is None for d in shape[2:]):
        return False
    return all(float(s * d).is_integer() for s, d in zip(spatial, shape[2:]))


def _matrices(node: OnnxNode, x, mode: str, ctm: str, nearest_mode: str, scales: list[float],
              sizes: list[int] | None, roi: list[float] | None, rank: int):
    shape = node.shape(0)
    resized = [a for a in range(rank) if scales[a] != 1.0 or (sizes is not None and sizes[a] != shape[a])
               or (roi is not None and (roi[a], roi[a + rank]) != (0.0, 1.0))]
    if any(a < rank - 2 for a in resized):
        raise node.error(f"only the last two axes can be resized this way (scales {scales})")
    if sizes is None or shape is None:
        raise node.error("this resize mode needs the input's spatial size at import time (give the graph "
                         "input a static shape)")
    dtype = x.dtype if getattr(x, "dtype", None) is not None else np.dtype(np.float32)
    extrapolate = float(node.attr("extrapolation_value", 0.0))
    outside = []
    y = x
    for a in sorted(resized, reverse=True):
        span = (roi[a], roi[a + rank]) if roi is not None else (0.0, 1.0)
        coords = source_coordinates(ctm, sizes[a], int(shape[a]), scales[a], span)
        matrix = interpolation_matrix(mode, coords, int(shape[a]), nearest_mode,
                                      float(node.attr("cubic_coeff_a", -0.75)),
                                      bool(node.attr("exclude_outside", 0)),
                                      scales[a] if int(node.attr("antialias", 0)) else None)
        if ctm == "tf_crop_and_resize":
            mask = (coords < 0) | (coords > shape[a] - 1)
            matrix[mask] = 0.0
            outside.append((a, mask))
        if a == rank - 1:
            y = node.apply(nn.MatMul(), [y, np.ascontiguousarray(matrix.T).astype(dtype)], suffix="/width")
        else:
            y = node.apply(nn.MatMul(), [matrix.astype(dtype), y], suffix="/height")
    if outside and extrapolate != 0.0:
        fill = np.zeros([sizes[a] if a >= rank - 2 else 1 for a in range(rank)], dtype=bool)
        for a, mask in outside:
            view = [1] * rank
            view[a] = -1
            fill = fill | mask.reshape(view)
        y = node.apply(nn.Add(), [y, (fill * extrapolate).astype(dtype)], suffix="/extrapolate")
    return y


@ONNX.register("Resize", since=10)
def resize(node: OnnxNode):
    x, rank = node.value(0), node.need_rank(0)
    mode = node.attr("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise node.error(f"resize mode {mode!r} is not supported")
    new = node.ctx.opset >= 11
    ctm = node.attr("coordinate_transformation_mode", "half_pixel" if new else "asymmetric")
    nearest_mode = node.attr("nearest_mode", "round_prefer_floor" if new else "floor")
    if new and isinstance(node.value(3), Sym):  # output size computed per call (e.g. another map's size)
        return _resize_to(node, x, rank, mode, ctm, nearest_mode)
    roi = node.const(1, "roi") if new else None
    scales = node.const(2 if new else 1, "scales")
    sizes = node.const(3, "sizes") if new else None
    if sizes is not None and np.size(sizes) == 0:
        sizes = None
    if sizes is None and (scales is None or np.size(scales) == 0):
        raise node.error("neither scales nor sizes is given")
    axes = node.attr("axes")
    axes = list(range(rank)) if axes is None else [int(a) + rank if int(a) < 0 else int(a) for a in axes]
    if roi is not None and np.size(roi) and ctm == "tf_crop_and_resize":
        given = [float(v) for v in np.asarray(roi).reshape(-1)]
        roi = [0.0] * rank + [1.0] * rank
        for i, a in enumerate(axes):
            roi[a], roi[rank + a] = given[i], given[len(axes) + i]
    else:
        roi = None
    full_scales, full_sizes = _plan(node, scales, sizes, axes, rank)
    plain = ctm != "tf_crop_and_resize" and not (int(node.attr("antialias", 0)) and mode != "nearest")
    layer = None if not plain else _upsample_layer(
        node, mode, ctm, nearest_mode, full_scales, full_sizes if sizes is not None else None, rank)
    if layer is not None:
        return node.apply(layer, [x])
    return _matrices(node, x, mode, ctm, nearest_mode, full_scales, full_sizes, roi, rank)


def _resize_to(node: OnnxNode, x, rank: int, mode: str, ctm: str, nearest_mode: str):
    """Resize to computed sizes: the samplings :class:`UpsampleTo` computes exactly at any ratio."""
    axes = node.attr("axes")
    if rank != 4 or (axes is not None and [int(a) % 4 for a in axes] != [2, 3]):
        raise node.error("computed sizes are supported for the H and W axes of NCHW inputs only")
    if node.attr("keep_aspect_ratio_policy", "stretch") != "stretch" or int(node.attr("antialias", 0)):
        raise node.error("computed sizes need keep_aspect_ratio_policy 'stretch' and no antialiasing")
    if mode == "nearest" and (ctm, nearest_mode) == ("asymmetric", "floor"):
        return node.apply(nn.UpsampleTo("nearest"), [x, node.value(3)])
    if mode == "linear" and ctm in ("half_pixel", "align_corners"):
        return node.apply(nn.UpsampleTo("bilinear", align_corners=ctm == "align_corners"), [x, node.value(3)])
    raise node.error(f"computed sizes are supported for nearest (asymmetric, floor) and linear (half_pixel or "
                     f"align_corners) resizing, not {mode} ({ctm}, {nearest_mode})")


@ONNX.register("Upsample", since=7)
def upsample(node: OnnxNode):
    """Opsets 7-9: nearest (asymmetric, floor) or linear (asymmetric) up-sampling by ``scales``."""
    rank = node.need_rank(0)
    scales = node.attr("scales") if node.ctx.opset < 9 else node.const(1, "scales")
    mode = node.attr("mode", "nearest")
    full_scales, full_sizes = _plan(node, scales, None, list(range(rank)), rank)
    layer = _upsample_layer(node, "linear" if mode in ("linear", "bilinear") else mode, "asymmetric", "floor",
                            full_scales, None, rank)
    if layer is not None:
        return node.apply(layer, [node.value(0)])
    return _matrices(node, node.value(0), "linear" if mode == "bilinear" else mode, "asymmetric", "floor",
                     full_scales, full_sizes, None, rank)
