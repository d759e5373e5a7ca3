"""Converters of the SSD layers PriorBox and DetectionOutput (Caffe SSD parameters -> our layers)."""
from __future__ import annotations

import math

from bigdl_runtime.nn import DetectionOutput, PriorBox

from . import caffe_subset_pb2 as pb
from .context import LayerContext, Value, converter

_CODE_TYPES = {pb.PriorBoxParameter.CORNER: "CORNER", pb.PriorBoxParameter.CENTER_SIZE: "CENTER_SIZE"}


def _pair(ctx: LayerContext, p: object, single: str, h: str, w: str) -> list[float] | None:
    """``(h, w)`` from ``single`` or from the ``h``/``w`` fields (Caffe: either one, not both)."""
    if p.HasField(single):
        if p.HasField(h) or p.HasField(w):
            raise ctx.fail(f"give either {single} or {h}/{w}, not both")
        value = float(getattr(p, single))
        return [value, value]
    if p.HasField(h) or p.HasField(w):
        if not (p.HasField(h) and p.HasField(w)):
            raise ctx.fail(f"{h} and {w} must be given together")
        return [float(getattr(p, h)), float(getattr(p, w))]
    return None


@converter("PriorBox")
def prior_box(ctx: LayerContext) -> list[Value]:
    """Bottoms: the feature map, then the image (its size is used unless img_size/img_h/img_w is set)."""
    ctx.expect_inputs(1, 2)
    p = ctx.layer.prior_box_param
    if not p.min_size:
        raise ctx.fail("min_size is required")
    if p.max_size and len(p.max_size) != len(p.min_size):
        raise ctx.fail(f"give one max_size per min_size, got {list(p.max_size)} for {list(p.min_size)}")
    img_size = _pair(ctx, p, "img_size", "img_h", "img_w")
    if img_size is None and len(ctx.inputs) < 2:
        raise ctx.fail("needs the image as second bottom, or img_size / img_h and img_w")
    try:
        layer = PriorBox(list(p.min_size), list(p.max_size), list(p.aspect_ratio), p.flip, p.clip,
                         list(p.variance) or [0.1], _pair(ctx, p, "step", "step_h", "step_w"), p.offset,
                         img_size, name=ctx.name)
    except ValueError as err:
        raise ctx.fail(str(err)) from None
    feature = ctx.shape(0)
    if len(feature) != 4:
        raise ctx.fail(f"expects a feature map (N, C, H, W), got {feature}")
    nodes = [v.node for v in ctx.inputs] if img_size is None else [ctx.inputs[0].node]
    return [Value(ctx.apply(layer, *nodes), (1, 2, feature[2] * feature[3] * layer.num_priors * 4))]


@converter("DetectionOutput")
def detection_output(ctx: LayerContext) -> list[Value]:
    """Bottoms: box offsets, class confidences (already softmax-ed), priors. Top: ``(1, 1, K, 7)``."""
    ctx.expect_inputs(3)
    p = ctx.layer.detection_output_param
    if not p.HasField("num_classes"):
        raise ctx.fail("num_classes is required")
    if p.code_type not in _CODE_TYPES:
        raise ctx.fail(f"code_type {pb.PriorBoxParameter.CodeType.Name(p.code_type)} is not supported "
                       "(only CORNER and CENTER_SIZE)")
    loc, conf, priors = (math.prod(v.shape[1:]) for v in ctx.inputs)
    boxes = priors // 8  # priors: (1, 2, P * 4) boxes then variances
    loc_classes = 1 if p.share_location else p.num_classes
    if loc != boxes * loc_classes * 4 or conf != boxes * p.num_classes:
        raise ctx.fail(f"{boxes} priors need {boxes * loc_classes * 4} box offsets and {boxes * p.num_classes} "
                       f"confidences per image, got {loc} and {conf} (bottom shapes {[v.shape for v in ctx.inputs]})")
    nms = p.nms_param
    layer = DetectionOutput(p.num_classes, p.share_location, p.background_label_id, nms.nms_threshold,
                            nms.top_k if nms.HasField("top_k") else -1, p.keep_top_k,
                            p.confidence_threshold if p.HasField("confidence_threshold") else None,
                            _CODE_TYPES[p.code_type], p.variance_encoded_in_target, nms.eta, name=ctx.name)
    return [Value(ctx.apply(layer), (1, 1, None, 7))]
