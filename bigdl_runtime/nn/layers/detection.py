"""Detection layers: PriorBox and DetectionOutput (Caffe SSD semantics) and ONNX NonMaxSuppression.

None of them has parameters. PriorBox's output does not depend on its inputs' values and
NonMaxSuppression outputs indices, so their input gradients are zeros; DetectionOutput is
inference-only (train SSD with a multibox loss on the raw loc/conf outputs instead).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import detection as K
from ..kernel_layer import as_inputs, call_kernel
from ..module import Module


def _pair(value: float | Sequence[float] | None, what: str) -> list[float] | None:
    if value is None:
        return None
    values = [float(value)] * 2 if np.isscalar(value) else [float(v) for v in value]
    if len(values) != 2:
        raise ValueError(f"{what} must be one number or (h, w), got {value!r}")
    return values


class PriorBox(Module):
    """SSD prior (default) boxes of a feature map, as Caffe's PriorBox layer.

    Args:
        min_sizes: square prior sizes in pixels (one set of priors per entry).
        max_sizes: optional, one per min size: adds a square of side ``sqrt(min * max)``.
        aspect_ratios: extra ratios ``w / h`` (1 is always included; duplicates ignored).
        flip: also add ``1 / r`` for each ratio. Default: True.
        clip: clamp the normalised corners into ``[0, 1]``. Default: False.
        variances: 1 or 4 values stored with the boxes. Default: (0.1,).
        step: pixel distance between cell centres, one number or ``(h, w)``; None = image / map size.
        offset: cell centre offset in cells. Default: 0.5.
        img_size: the image ``(h, w)`` (or one number); None = taken from the second input.

    Shape:
        - Inputs: feature map ``(N, C, H, W)`` and, unless ``img_size``, the image ``(N, C', H_img, W_img)``.
        - Output: ``(1, 2, H * W * P * 4)``: normalised ``[xmin, ymin, xmax, ymax]`` per prior, then the
          variances; P priors per location (see :func:`bigdl_runtime.kernels.detection.prior_box_sizes`).

    Examples:
        >>> pb = PriorBox([30.0], [60.0], aspect_ratios=[2.0], img_size=300)
        >>> pb(np.zeros((1, 8, 38, 38))).shape  # 4 priors per cell
        (1, 2, 23104)
    """

    def __init__(self, min_sizes: Sequence[float], max_sizes: Sequence[float] = (),
                 aspect_ratios: Sequence[float] = (), flip: bool = True, clip: bool = False,
                 variances: Sequence[float] = (0.1,), step: float | Sequence[float] | None = None,
                 offset: float = 0.5, img_size: float | Sequence[float] | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.min_sizes = [float(s) for s in min_sizes]
        self.max_sizes = [float(s) for s in max_sizes]
        self.aspect_ratios = [float(r) for r in aspect_ratios]
        self.flip, self.clip = bool(flip), bool(clip)
        self.variances = [float(v) for v in variances]
        self.step = _pair(step, "PriorBox: step")
        self.offset = float(offset)
        self.img_size = _pair(img_size, "PriorBox: img_size")
        try:  # validate the configuration now, not at the first forward
            self.num_priors = len(K.prior_box_sizes(self.min_sizes, self.max_sizes, self.aspect_ratios, self.flip))
            K.prior_boxes((1, 1), (1, 1), [1.0], variances=self.variances)
        except ValueError as err:
            raise ValueError(f"{self.describe()}: {err}") from None

    def get_config(self) -> dict[str, Any]:
        return {"min_sizes": self.min_sizes, "max_sizes": self.max_sizes, "aspect_ratios": self.aspect_ratios,
                "flip": self.flip, "clip": self.clip, "variances": self.variances, "step": self.step,
                "offset": self.offset, "img_size": self.img_size}

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, list[tuple[tuple[int, ...], Any]]]:
        """The priors ``(1, 2, H * W * P * 4)``; the context is the inputs' shapes and dtypes."""
        xs = as_inputs(inputs)
        if not 1 <= len(xs) <= 2 or any(np.ndim(x) != 4 for x in xs):
            raise ValueError(f"{self.describe()}: expected a feature map (N, C, H, W) and optionally the "
                             f"image (N, C, H, W), got shapes {[np.shape(x) for x in xs]}")
        if self.img_size is None and len(xs) != 2:
            raise ValueError(f"{self.describe()}: without img_size the image must be the second input")
        image_hw = self.img_size if self.img_size is not None else xs[1].shape[2:]
        dtype = xs[0].dtype if np.issubdtype(xs[0].dtype, np.floating) else np.float32
        priors = call_kernel(self, K.prior_boxes, xs[0].shape[2:], image_hw, self.min_sizes, self.max_sizes,
                             self.aspect_ratios, self.flip, self.clip, self.step or (0.0, 0.0), self.offset,
                             self.variances, dtype)
        return priors[None], [(x.shape, x.dtype) for x in xs]

    def backward_pass(self, grad_output: np.ndarray, shapes: list[tuple[tuple[int, ...], Any]]) -> Any:
        grads = tuple(np.zeros(s, d) for s, d in shapes)
        return grads[0] if len(grads) == 1 else grads


class DetectionOutput(Module):
    """SSD detections: decode the boxes, per-class NMS, keep the best (Caffe's DetectionOutput).

    Args:
        num_classes: classes, background included.
        share_location: one box per prior for all classes (else one per prior and class). Default: True.
        background_label_id: class not reported (-1: none). Default: 0.
        nms_threshold: IoU above which a lower-scoring box of the same class is suppressed. Default: 0.45.
        top_k: candidates per class entering NMS (-1: all). Default: -1.
        keep_top_k: detections kept per image (-1: all). Default: -1.
        confidence_threshold: candidates must score above this (None: all). Default: None.
        code_type: ``"CENTER_SIZE"`` or ``"CORNER"``. Default: "CENTER_SIZE".
        variance_encoded_in_target: the offsets already include the variances. Default: False.
        eta: adaptive NMS factor (1: off). Default: 1.0.
        clip: clamp decoded boxes into ``[0, 1]``. Default: False.

    Shape:
        - Inputs: loc ``(N, P * 4)`` (or ``(N, P * num_classes * 4)``), conf ``(N, P * num_classes)``
          probabilities, priors ``(1, 2, P * 4)`` (a PriorBox output); any shapes with those sizes.
        - Output: ``(1, 1, K, 7)`` rows ``(image_id, label, score, xmin, ymin, xmax, ymax)`` in
          normalised coordinates; if nothing is found, one row ``(i, -1, ..., -1)`` per image.

    Examples:
        >>> det = DetectionOutput(num_classes=21, keep_top_k=200, confidence_threshold=0.01)
        >>> rows = det(loc, softmax_conf, priors)[0, 0]  # doctest: +SKIP
    """

    def __init__(self, num_classes: int, share_location: bool = True, background_label_id: int = 0,
                 nms_threshold: float = 0.45, top_k: int = -1, keep_top_k: int = -1,
                 confidence_threshold: float | None = None, code_type: str = "CENTER_SIZE",
                 variance_encoded_in_target: bool = False, eta: float = 1.0, clip: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if num_classes < 1:
            raise ValueError(f"DetectionOutput: num_classes must be positive, got {num_classes}")
        if code_type not in K.CODE_TYPES:
            raise ValueError(f"DetectionOutput: code_type must be one of {K.CODE_TYPES}, got {code_type!r}")
        if not 0 < eta <= 1 or nms_threshold < 0:
            raise ValueError(f"DetectionOutput: need 0 < eta <= 1 and nms_threshold >= 0, "
                             f"got {eta} and {nms_threshold}")
        self.num_classes = int(num_classes)
        self.share_location = bool(share_location)
        self.background_label_id = int(background_label_id)
        self.nms_threshold = float(nms_threshold)
        self.top_k, self.keep_top_k = int(top_k), int(keep_top_k)
        self.confidence_threshold = None if confidence_threshold is None else float(confidence_threshold)
        self.code_type = code_type
        self.variance_encoded_in_target = bool(variance_encoded_in_target)
        self.eta = float(eta)
        self.clip = bool(clip)

    def get_config(self) -> dict[str, Any]:
        return {"num_classes": self.num_classes, "share_location": self.share_location,
                "background_label_id": self.background_label_id, "nms_threshold": self.nms_threshold,
                "top_k": self.top_k, "keep_top_k": self.keep_top_k,
                "confidence_threshold": self.confidence_threshold, "code_type": self.code_type,
                "variance_encoded_in_target": self.variance_encoded_in_target, "eta": self.eta, "clip": self.clip}

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, None]:
        xs = as_inputs(inputs)
        if len(xs) != 3:
            raise ValueError(f"{self.describe()}: expected 3 inputs (loc, conf, priors), got {len(xs)}")
        loc, conf, priors = (np.asarray(x) for x in xs)
        if priors.size % 8 or priors.shape[0] != 1:
            raise ValueError(f"{self.describe()}: priors must be (1, 2, P * 4) boxes and variances, "
                             f"got {priors.shape}")
        rows = call_kernel(self, K.detection_output, loc, conf, priors, self.num_classes, self.share_location,
                           self.background_label_id, self.nms_threshold, self.top_k, self.keep_top_k,
                           self.confidence_threshold, self.code_type, self.variance_encoded_in_target,
                           self.eta, self.clip)
        return rows[None, None], None

    def backward_pass(self, grad_output: np.ndarray, ctx: None) -> Any:
        raise RuntimeError(f"{self.describe()}: detection output is inference-only and has no gradient; "
                           "train on the raw loc/conf outputs with a multibox loss")


class NonMaxSuppression(Module):
    """Per-batch, per-class greedy NMS returning selected indices, as ONNX NonMaxSuppression (opset 10+).

    Args:
        center_point_box: 0 = boxes are ``[y1, x1, y2, x2]`` (either diagonal), 1 = ``[x_c, y_c, w, h]``.
        max_output_boxes_per_class: used when the input is not given (0 = select nothing, the ONNX default).
        iou_threshold: used when the input is not given. Default: 0.0.
        score_threshold: used when the input is not given (None = no score filter).

    Shape:
        - Inputs: boxes ``(B, N, 4)``, scores ``(B, C, N)``, then optionally the scalars
          max_output_boxes_per_class, iou_threshold, score_threshold (``None`` = use the config).
        - Output: int64 ``(num_selected, 3)`` rows ``(batch, class, box)``, by batch, class, then
          descending score.

    Examples:
        >>> boxes = np.array([[[0, 0, 1, 1], [0, 0.1, 1, 1.1], [0, 2, 1, 3]]], np.float32)
        >>> NonMaxSuppression()(boxes, np.array([[[0.9, 0.8, 0.7]]], np.float32), 3, 0.5).tolist()
        [[0, 0, 0], [0, 0, 2]]
    """

    def __init__(self, center_point_box: int = 0, max_output_boxes_per_class: int = 0,
                 iou_threshold: float = 0.0, score_threshold: float | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        if center_point_box not in (0, 1):
            raise ValueError(f"NonMaxSuppression: center_point_box must be 0 or 1, got {center_point_box}")
        self.center_point_box = int(center_point_box)
        self.max_output_boxes_per_class = int(max_output_boxes_per_class)
        self.iou_threshold = float(iou_threshold)
        self.score_threshold = None if score_threshold is None else float(score_threshold)

    def get_config(self) -> dict[str, Any]:
        return {"center_point_box": self.center_point_box,
                "max_output_boxes_per_class": self.max_output_boxes_per_class,
                "iou_threshold": self.iou_threshold, "score_threshold": self.score_threshold}

    @staticmethod
    def _scalar(value: Any, default: Any, cast: type) -> Any:
        if value is None or np.size(value) == 0:
            return default
        return cast(np.asarray(value).reshape(-1)[0])

    def forward_pass(self, *inputs: Any) -> tuple[np.ndarray, list[tuple[tuple[int, ...], Any]]]:
        """The selected rows; the context is the inputs' shapes and dtypes."""
        xs = list(as_inputs(inputs)) + [None] * 3
        boxes, scores = np.asarray(xs[0]), np.asarray(xs[1])
        if boxes.ndim != 3 or boxes.shape[2] != 4 or scores.ndim != 3 or scores.shape[::2] != boxes.shape[:2]:
            raise ValueError(f"{self.describe()}: boxes must be (B, N, 4) and scores (B, C, N), "
                             f"got {boxes.shape} and {scores.shape}")
        max_out = max(self._scalar(xs[2], self.max_output_boxes_per_class, int), 0)
        iou_threshold = self._scalar(xs[3], self.iou_threshold, float)
        score_threshold = self._scalar(xs[4], self.score_threshold, float)
        if self.center_point_box:
            corners = K.center_to_corner(boxes.astype(np.float64))
        else:
            yx = boxes.astype(np.float64)
            lo, hi = np.minimum(yx[..., :2], yx[..., 2:]), np.maximum(yx[..., :2], yx[..., 2:])
            corners = np.concatenate([lo[..., ::-1], hi[..., ::-1]], axis=-1)
        rows = []
        for b in range(scores.shape[0]):
            for c in range(scores.shape[1]):
                kept = K.nms(corners[b], scores[b, c], iou_threshold, score_threshold, max_output=max_out)
                rows.append(np.stack([np.full_like(kept, b), np.full_like(kept, c), kept], axis=1))
        shapes = [(np.shape(x), np.asarray(x).dtype) for x in as_inputs(inputs)]
        return (np.concatenate(rows, axis=0) if rows else np.zeros((0, 3), np.int64)), shapes

    def backward_pass(self, grad_output: np.ndarray,
                      shapes: list[tuple[tuple[int, ...], Any]]) -> tuple[np.ndarray, ...]:
        return tuple(np.zeros(s, d) for s, d in shapes)
