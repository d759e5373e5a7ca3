"""Box geometry for object detection (SSD, Caffe PriorBox/DetectionOutput, ONNX NonMaxSuppression).

Boxes are ``(..., 4)`` arrays. *Corner* form is ``[xmin, ymin, xmax, ymax]``; *center* form
is ``[cx, cy, w, h]``. SSD works in coordinates normalised by the image size, so a box's
area is ``w * h`` (no Caffe-style ``+ 1`` pixel convention).

None of these functions has a gradient (prior boxes do not depend on the input's values,
non-maximum suppression selects indices), so none is a ``*_forward`` kernel pair; the
training gradient of SSD flows through the multibox loss instead.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

CODE_TYPES = ("CENTER_SIZE", "CORNER")


def corner_to_center(boxes: np.ndarray) -> np.ndarray:
    """``[xmin, ymin, xmax, ymax]`` -> ``[cx, cy, w, h]`` (last axis)."""
    boxes = np.asarray(boxes)
    wh = boxes[..., 2:] - boxes[..., :2]
    return np.concatenate([boxes[..., :2] + wh / 2, wh], axis=-1)


def center_to_corner(boxes: np.ndarray) -> np.ndarray:
    """``[cx, cy, w, h]`` -> ``[xmin, ymin, xmax, ymax]`` (last axis)."""
    boxes = np.asarray(boxes)
    half = boxes[..., 2:] / 2
    return np.concatenate([boxes[..., :2] - half, boxes[..., :2] + half], axis=-1)


def expand_aspect_ratios(aspect_ratios: Sequence[float], flip: bool = True) -> list[float]:
    """Caffe PriorBox's ratio list: 1 first, then each new ratio (and its inverse when ``flip``).

    Examples:
        >>> expand_aspect_ratios([2.0, 3.0])
        [1.0, 2.0, 0.5, 3.0, 0.3333333333333333]
    """
    ratios = [1.0]
    for ar in aspect_ratios:
        ar = float(ar)
        if ar <= 0:
            raise ValueError(f"prior box: aspect ratios must be positive, got {ar}")
        if any(abs(ar - r) < 1e-6 for r in ratios):
            continue
        ratios.append(ar)
        if flip:
            ratios.append(1.0 / ar)
    return ratios


def prior_box_sizes(min_sizes: Sequence[float], max_sizes: Sequence[float] = (),
                    aspect_ratios: Sequence[float] = (), flip: bool = True) -> np.ndarray:
    """The ``(P, 2)`` widths and heights (pixels) of the priors at every location, in Caffe's order.

    For each ``min_size`` (s): the square ``s``; then, with max sizes, the square
    ``sqrt(s * max_size)``; then ``(s * sqrt(r), s / sqrt(r))`` for each ratio ``r != 1``.
    """
    if not min_sizes:
        raise ValueError("prior box: at least one min_size is required")
    if max_sizes and len(max_sizes) != len(min_sizes):
        raise ValueError(f"prior box: {len(max_sizes)} max sizes for {len(min_sizes)} min sizes (must match)")
    ratios = expand_aspect_ratios(aspect_ratios, flip)
    sizes = []
    for i, s in enumerate(min_sizes):
        s = float(s)
        if s <= 0:
            raise ValueError(f"prior box: min_size must be positive, got {s}")
        sizes.append((s, s))
        if max_sizes:
            big = float(max_sizes[i])
            if big <= s:
                raise ValueError(f"prior box: max_size {big} must be larger than min_size {s}")
            sizes.append((np.sqrt(s * big),) * 2)
        sizes.extend((s * np.sqrt(r), s / np.sqrt(r)) for r in ratios if abs(r - 1.0) >= 1e-6)
    return np.asarray(sizes, dtype=np.float64)


def prior_boxes(feature_hw: tuple[int, int], image_hw: tuple[float, float], min_sizes: Sequence[float],
                max_sizes: Sequence[float] = (), aspect_ratios: Sequence[float] = (), flip: bool = True,
                clip: bool = False, step_hw: tuple[float, float] = (0.0, 0.0), offset: float = 0.5,
                variances: Sequence[float] = (0.1,), dtype: type = np.float32) -> np.ndarray:
    """SSD prior (default) boxes of one feature map, laid out as Caffe's PriorBox top blob.

    Args:
        feature_hw: the feature map's ``(H, W)``.
        image_hw: the network input's ``(height, width)`` in pixels.
        min_sizes, max_sizes, aspect_ratios, flip: the prior shapes (see :func:`prior_box_sizes`).
        clip: clamp the corners into ``[0, 1]``.
        step_hw: pixel distance between neighbouring centres; ``0`` = image size / feature size.
        offset: centre of cell ``(i, j)`` is ``((j + offset) * step_w, (i + offset) * step_h)``.
        variances: one value for all four coordinates or four values.

    Returns:
        ``(2, H * W * P * 4)``: row 0 the normalised corner boxes (location-major, then prior),
        row 1 the variance of each coordinate.

    Examples:
        >>> prior_boxes((1, 1), (10, 10), [5]).reshape(2, -1, 4)[0]
        array([[0.25, 0.25, 0.75, 0.75]], dtype=float32)
    """
    h, w = (int(v) for v in feature_hw)
    img_h, img_w = (float(v) for v in image_hw)
    if h < 1 or w < 1 or img_h <= 0 or img_w <= 0:
        raise ValueError(f"prior box: feature map {feature_hw} and image {image_hw} must be non-empty")
    variances = [float(v) for v in variances]
    if len(variances) not in (1, 4) or any(v <= 0 for v in variances):
        raise ValueError(f"prior box: need 1 or 4 positive variances, got {variances}")
    step_h, step_w = (float(v) for v in step_hw)
    if step_h <= 0 or step_w <= 0:
        step_h, step_w = img_h / h, img_w / w
    sizes = prior_box_sizes(min_sizes, max_sizes, aspect_ratios, flip)
    cy = (np.arange(h) + offset) * step_h
    cx = (np.arange(w) + offset) * step_w
    centers = np.stack(np.broadcast_arrays(cx[None, :, None], cy[:, None, None]), axis=-1)  # (h, w, 1, 2)
    half = sizes[None, None, :, :] / 2
    boxes = np.concatenate([centers - half, centers + half], axis=-1) / np.array([img_w, img_h, img_w, img_h])
    if clip:
        boxes = np.clip(boxes, 0.0, 1.0)
    out = np.empty((2, boxes.size), dtype=dtype)
    out[0] = boxes.reshape(-1)
    out[1] = np.resize(np.asarray(variances * (4 // len(variances))), boxes.size)
    return out


def encode_boxes(boxes: np.ndarray, priors: np.ndarray, variances: np.ndarray | Sequence[float],
                 code_type: str = "CENTER_SIZE") -> np.ndarray:
    """Regression targets of corner ``boxes`` relative to corner ``priors`` (inverse of :func:`decode_boxes`).

    CENTER_SIZE: ``((cx - pcx) / pw / v0, (cy - pcy) / ph / v1, log(w / pw) / v2, log(h / ph) / v3)``;
    CORNER: ``(box - prior) / v``.
    """
    boxes, priors = np.asarray(boxes), np.asarray(priors)
    var = np.broadcast_to(np.asarray(variances, dtype=boxes.dtype), priors.shape)
    if code_type == "CORNER":
        return (boxes - priors) / var
    _check_code(code_type)
    b, p = corner_to_center(boxes), corner_to_center(priors)
    xy = (b[..., :2] - p[..., :2]) / p[..., 2:] / var[..., :2]
    wh = np.log(b[..., 2:] / p[..., 2:]) / var[..., 2:]
    return np.concatenate([xy, wh], axis=-1)


def decode_boxes(loc: np.ndarray, priors: np.ndarray, variances: np.ndarray | Sequence[float],
                 code_type: str = "CENTER_SIZE", variance_encoded_in_target: bool = False) -> np.ndarray:
    """Corner boxes from regression outputs ``loc`` and corner ``priors`` (as Caffe's DecodeBBox).

    Args:
        loc: ``(..., 4)`` predicted offsets.
        priors: ``(..., 4)`` corner priors, broadcastable to ``loc``.
        variances: ``(..., 4)`` or 4 values; ignored when ``variance_encoded_in_target``.
        code_type: ``"CENTER_SIZE"`` or ``"CORNER"``.

    Returns:
        ``(..., 4)`` corner boxes.
    """
    loc, priors = np.asarray(loc), np.asarray(priors)
    var = np.ones(4, loc.dtype) if variance_encoded_in_target else np.asarray(variances, dtype=loc.dtype)
    if code_type == "CORNER":
        return priors + loc * var
    _check_code(code_type)
    var = np.broadcast_to(var, np.broadcast_shapes(var.shape, priors.shape))
    p = corner_to_center(priors)
    xy = p[..., :2] + loc[..., :2] * var[..., :2] * p[..., 2:]
    wh = np.exp(loc[..., 2:] * var[..., 2:]) * p[..., 2:]
    return center_to_corner(np.concatenate(np.broadcast_arrays(xy, wh), axis=-1))


def _check_code(code_type: str) -> None:
    if code_type not in CODE_TYPES:
        raise ValueError(f"box coding: code_type must be one of {CODE_TYPES}, got {code_type!r}")


def box_areas(boxes: np.ndarray) -> np.ndarray:
    """Areas of corner boxes; an inverted box has area 0."""
    boxes = np.asarray(boxes)
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` intersection areas of two sets of corner boxes."""
    a, b = np.asarray(a)[:, None, :], np.asarray(b)[None, :, :]
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(iw, 0, None) * np.clip(ih, 0, None)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` intersection over union (Jaccard overlap) of corner boxes; 0 when disjoint.

    Examples:
        >>> float(iou(np.array([[0, 0, 2, 2.]]), np.array([[1, 0, 3, 2.]]))[0, 0])
        0.3333333333333333
    """
    return _overlaps(a, b)[1]


def _overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intersection areas and IoU of corner boxes (IoU 0 where they do not intersect)."""
    inter = intersections(a, b)
    union = box_areas(a)[:, None] + box_areas(b)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter, np.where(inter > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, score_threshold: float | None = None,
        top_k: int = -1, max_output: int = -1, eta: float = 1.0) -> np.ndarray:
    """Greedy non-maximum suppression of one class (Caffe's ApplyNMSFast, ONNX NonMaxSuppression).

    Candidates are the boxes scoring strictly above ``score_threshold``, by descending score
    (ties: lower index first), cut to the ``top_k`` best. Each candidate is kept unless its
    IoU with an already kept box exceeds the threshold; with ``eta < 1`` the threshold is
    multiplied by ``eta`` after each keep while it is above 0.5 (Caffe's adaptive NMS).

    Args:
        boxes: ``(N, 4)`` corner boxes.
        scores: ``(N,)``.
        iou_threshold: suppress when IoU > this.
        score_threshold: keep only scores > this (None: all).
        top_k: candidates considered (-1: all).
        max_output: stop after this many kept boxes (-1: no limit).
        eta: adaptive threshold factor (1: fixed threshold).

    Returns:
        int64 indices into ``boxes`` of the kept boxes, by descending score.

    Examples:
        >>> b = np.array([[0, 0, 1, 1], [0, 0, 1, 0.9], [2, 2, 3, 3]])
        >>> nms(b, np.array([0.9, 0.8, 0.7]), 0.5).tolist()
        [0, 2]
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if boxes.shape != (scores.shape[0], 4):
        raise ValueError(f"nms: boxes {boxes.shape} must be (N, 4) for {scores.shape[0]} scores")
    idx = np.arange(scores.shape[0]) if score_threshold is None else np.flatnonzero(scores > score_threshold)
    order = idx[np.argsort(-scores[idx], kind="stable")]
    if top_k >= 0:
        order = order[:top_k]
    if max_output == 0 or order.size == 0:
        return np.zeros(0, dtype=np.int64)
    cand = boxes[order]
    worst = np.full(order.size, -np.inf)  # largest IoU of each candidate with any kept box
    keep, pos, threshold = [], 0, float(iou_threshold)
    while True:
        keep.append(pos)
        if eta < 1 and threshold > 0.5:
            threshold *= eta
        if len(keep) == max_output or pos + 1 == order.size:
            break
        inter, overlap = _overlaps(cand[pos:pos + 1], cand[pos + 1:])
        np.maximum(worst[pos + 1:], np.where(inter[0] > 0, overlap[0], -np.inf), out=worst[pos + 1:])
        free = np.flatnonzero(worst[pos + 1:] <= threshold)
        if free.size == 0:
            break
        pos += 1 + int(free[0])
    return order[keep].astype(np.int64)


def multiclass_nms(boxes: np.ndarray, scores: np.ndarray, background_label_id: int = 0,
                   nms_threshold: float = 0.45, top_k: int = -1, keep_top_k: int = -1,
                   confidence_threshold: float | None = None, eta: float = 1.0) -> np.ndarray:
    """Per-class NMS of one image, then the ``keep_top_k`` best over all classes (Caffe DetectionOutput).

    Args:
        boxes: ``(P, 4)`` corner boxes shared by all classes, or ``(P, C, 4)`` one box per class.
        scores: ``(P, C)`` class confidences.
        background_label_id: class skipped (-1: none).
        nms_threshold, top_k, eta: per-class NMS (see :func:`nms`).
        keep_top_k: detections kept per image after NMS (-1: all).
        confidence_threshold: candidates must score above this (None: all).

    Returns:
        ``(K, 6)`` rows ``(label, score, xmin, ymin, xmax, ymax)``, by ascending label and
        then descending score (Caffe's output order).
    """
    scores = np.asarray(scores)
    num_classes = scores.shape[1]
    found = []  # (label, indices)
    for c in range(num_classes):
        if c == background_label_id:
            continue
        class_boxes = boxes if boxes.ndim == 2 else boxes[:, c]
        kept = nms(class_boxes, scores[:, c], nms_threshold, confidence_threshold, top_k, eta=eta)
        found.append((c, kept))
    labels = np.concatenate([np.full(k.size, c, dtype=np.int64) for c, k in found]) if found else np.zeros(0, int)
    index = np.concatenate([k for _, k in found]) if found else np.zeros(0, int)
    if 0 <= keep_top_k < labels.size:
        best = np.argsort(-scores[index, labels], kind="stable")[:keep_top_k]
        best = best[np.lexsort((-scores[index[best], labels[best]], labels[best]))]
        labels, index = labels[best], index[best]
    chosen = boxes[index] if boxes.ndim == 2 else boxes[index, labels]
    rows = np.empty((labels.size, 6), dtype=scores.dtype)
    rows[:, 0], rows[:, 1], rows[:, 2:] = labels, scores[index, labels], chosen
    return rows


def detection_output(loc: np.ndarray, conf: np.ndarray, priors: np.ndarray, num_classes: int,
                     share_location: bool = True, background_label_id: int = 0, nms_threshold: float = 0.45,
                     top_k: int = -1, keep_top_k: int = -1, confidence_threshold: float | None = None,
                     code_type: str = "CENTER_SIZE", variance_encoded_in_target: bool = False,
                     eta: float = 1.0, clip: bool = False) -> np.ndarray:
    """SSD detections of a batch, as Caffe's DetectionOutput layer.

    Args:
        loc: ``(N, P * 4)`` box offsets (``(N, P * C * 4)`` when not ``share_location``), any shape
            with N first and that many values.
        conf: ``(N, P * C)`` class confidences (already softmax-ed), any shape with N first.
        priors: ``(1, 2, P * 4)`` or ``(2, P * 4)`` PriorBox output (boxes then variances).
        num_classes: C, background included.
        clip: clamp decoded boxes into ``[0, 1]``.
        Others: see :func:`multiclass_nms` and :func:`decode_boxes`.

    Returns:
        ``(K, 7)`` rows ``(image_id, label, score, xmin, ymin, xmax, ymax)``; when nothing is
        detected in the whole batch, one row ``(i, -1, -1, -1, -1, -1, -1)`` per image (as Caffe).
    """
    n = loc.shape[0]
    priors = np.asarray(priors).reshape(2, -1, 4)
    num_priors = priors.shape[1]
    loc_classes = 1 if share_location else num_classes
    if loc[0].size != num_priors * loc_classes * 4:
        raise ValueError(f"detection output: loc has {loc[0].size} values per image, expected "
                         f"{num_priors} priors x {loc_classes} x 4 = {num_priors * loc_classes * 4}")
    if conf.shape[0] != n or conf[0].size != num_priors * num_classes:
        raise ValueError(f"detection output: conf {conf.shape} must hold {n} x {num_priors} priors x "
                         f"{num_classes} classes")
    loc = loc.reshape(n, num_priors, loc_classes, 4)
    conf = conf.reshape(n, num_priors, num_classes)
    prior_boxes_, variances = priors[0][:, None, :], priors[1][:, None, :]
    out = []
    for i in range(n):
        boxes = decode_boxes(loc[i], prior_boxes_, variances, code_type, variance_encoded_in_target)
        if clip:
            boxes = np.clip(boxes, 0.0, 1.0)
        rows = multiclass_nms(boxes[:, 0] if share_location else boxes, conf[i], background_label_id,
                              nms_threshold, top_k, keep_top_k, confidence_threshold, eta)
        out.append(np.concatenate([np.full((rows.shape[0], 1), i, rows.dtype), rows], axis=1))
    result = np.concatenate(out, axis=0).astype(conf.dtype, copy=False)
    if result.shape[0] == 0:
        result = np.full((n, 7), -1, dtype=conf.dtype)
        result[:, 0] = np.arange(n)
    return result
