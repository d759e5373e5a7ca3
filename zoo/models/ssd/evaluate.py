"""Mean average precision at IoU 0.5, as the PASCAL VOC detection benchmark.

Detections of each class are taken over all images by descending score; one is a true
positive when its IoU with a not yet matched ground-truth box of its class in the same
image is at least ``iou_threshold`` (the truth it overlaps most), otherwise a false
positive (duplicates included). AP is the area under the precision-recall curve with
precision made monotone (VOC2010+ "all points"), or the mean of the interpolated
precision at recall 0, 0.1, ..., 1 (VOC2007 "11 points"). mAP averages the APs of
the classes that have ground truth.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bigdl_runtime.kernels.detection import iou
from bigdl_runtime.train.metrics import Metric


def average_precision(recall: np.ndarray, precision: np.ndarray, method: str = "all_points") -> float:
    """AP from a precision-recall curve (points in detection order).

    Examples:
        >>> average_precision(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3]))
        0.8333333333333333
    """
    recall, precision = np.asarray(recall, np.float64), np.asarray(precision, np.float64)
    if method == "11_points":
        return float(np.mean([precision[recall >= t].max() if np.any(recall >= t) else 0.0
                              for t in np.linspace(0, 1, 11)]))
    if method != "all_points":
        raise ValueError(f"average_precision: method must be 'all_points' or '11_points', got {method!r}")
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope
    steps = np.flatnonzero(r[1:] != r[:-1])
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(detections: Sequence[np.ndarray], truths: Sequence[tuple[np.ndarray, np.ndarray]],
                           num_classes: int, iou_threshold: float = 0.5, method: str = "all_points",
                           background_label: int = 0) -> dict[str, object]:
    """VOC mAP of a set of images.

    Args:
        detections: per image, ``(K, 6)`` rows ``(label, score, xmin, ymin, xmax, ymax)``.
        truths: per image, ``(boxes (m, 4), labels (m,))``.
        num_classes: labels are ``0..num_classes-1``; ``background_label`` is skipped.
        iou_threshold: IoU for a true positive. Default: 0.5.
        method: ``"all_points"`` (VOC2010+) or ``"11_points"`` (VOC2007).

    Returns:
        ``{"map": float, "ap": {label: AP}}`` over the classes with ground truth.
    """
    if len(detections) != len(truths):
        raise ValueError(f"mAP: {len(detections)} detection sets for {len(truths)} images")
    aps: dict[int, float] = {}
    for c in range(num_classes):
        if c == background_label:
            continue
        gt = [boxes[labels == c] for boxes, labels in truths]
        total = sum(len(g) for g in gt)
        if total == 0:
            continue
        found = [(float(row[1]), i, row[2:6]) for i, rows in enumerate(detections)
                 for row in np.asarray(rows).reshape(-1, 6) if int(row[0]) == c]
        found.sort(key=lambda f: -f[0])
        used = [np.zeros(len(g), bool) for g in gt]
        hits = np.zeros(len(found))
        for k, (_, i, box) in enumerate(found):
            if len(gt[i]) == 0:
                continue
            overlaps = iou(box[None, :], gt[i])[0]
            j = int(overlaps.argmax())
            if overlaps[j] >= iou_threshold and not used[i][j]:
                used[i][j] = True
                hits[k] = 1
        tp = np.cumsum(hits)
        recall = tp / total
        precision = tp / np.arange(1, len(found) + 1)
        aps[c] = average_precision(recall, precision, method) if len(found) else 0.0
    return {"map": float(np.mean(list(aps.values()))) if aps else 0.0, "ap": aps}


class MeanAveragePrecision(Metric):
    """mAP@``iou_threshold`` as a validation metric of the trainers (output: raw SSD predictions).

    Its state keeps every image's detections and truths (merged by concatenation), so it
    suits validation-sized sets.

    Args:
        priors: ``(P, 4)`` corner priors of the network.
        num_classes: classes including the background (label 0).
        method: ``"all_points"`` or ``"11_points"``.
        settings: DetectionOutput options for :func:`zoo.models.ssd.detect.detect`.

    Examples:
        >>> trainer.fit(x, y, validation=(xv, yv), metrics=[MeanAveragePrecision(priors, 8)])
    """

    def __init__(self, priors: np.ndarray, num_classes: int, iou_threshold: float = 0.5,
                 method: str = "all_points", **settings: Any) -> None:
        self.priors, self.num_classes = priors, num_classes
        self.iou_threshold, self.method, self.settings = iou_threshold, method, settings
        self.name = "map" if method == "all_points" else "map11"
        super().__init__()

    def _empty(self) -> tuple[list, list]:
        return [], []

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[list, list]:
        from .detect import detect
        from .matching import unpad_targets

        return detect(output, self.priors, self.num_classes, **self.settings), unpad_targets(target)

    def merge(self, state: tuple[list, list]) -> None:
        self._state = (self._state[0] + list(state[0]), self._state[1] + list(state[1]))

    def result(self) -> float:
        if not self._state[1]:
            raise ValueError(f"{self.name}: no samples seen; call update() first")
        return float(mean_average_precision(self._state[0], self._state[1], self.num_classes,
                                            self.iou_threshold, self.method)["map"])
