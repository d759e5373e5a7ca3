"""VOC mAP@0.5 on a hand-computed case (all-point and 11-point interpolation)."""
from __future__ import annotations

import numpy as np
import pytest

from zoo.models.ssd import MeanAveragePrecision, average_precision, make_priors, mean_average_precision, pad_targets
from bigdl_runtime.kernels.detection import encode_boxes

A, B, C = [0, 0, .5, .5], [.5, .5, 1, 1], [0, .5, .5, 1]


def _case() -> tuple[list[np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    truths = [(np.array([A]), np.array([1])), (np.array([B, C]), np.array([1, 2]))]
    detections = [np.array([[1, 0.9, *A],                      # TP
                            [1, 0.8, 0, 0, .5, .45],           # duplicate of A: FP
                            [3, 0.99, *A]]),                   # class without truth: ignored
                   np.array([[1, 0.7, 0, .5, .5, 1],           # on C, wrong class: FP
                             [1, 0.6, *B],                     # TP
                             [2, 0.5, 0, .5, .5, .745]])]      # IoU 0.49 with C: FP
    return detections, truths


def test_map_by_hand() -> None:
    detections, truths = _case()
    # class 1 in score order: TP, FP, FP, TP -> recall .5 .5 .5 1, precision 1 .5 .33 .5
    result = mean_average_precision(detections, truths, num_classes=4)
    assert result["ap"][1] == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    assert result["ap"][2] == 0.0 and 3 not in result["ap"]
    assert result["map"] == pytest.approx(0.375)
    # 11 points: precision 1 at recall 0..0.5 (6 points), 0.5 at 0.6..1 (5 points)
    eleven = mean_average_precision(detections, truths, num_classes=4, method="11_points")
    assert eleven["ap"][1] == pytest.approx((6 * 1 + 5 * 0.5) / 11)
    # a looser IoU threshold turns the class-2 box into a TP
    assert mean_average_precision(detections, truths, 4, iou_threshold=0.45)["ap"][2] == pytest.approx(1.0)


def test_average_precision_edge_cases() -> None:
    assert average_precision(np.array([1.0]), np.array([1.0])) == 1.0
    assert average_precision(np.array([0.0, 1.0]), np.array([0.0, 0.5])) == 0.5
    with pytest.raises(ValueError, match="method"):
        average_precision(np.array([1.0]), np.array([1.0]), "voc")
    with pytest.raises(ValueError, match="2 detection sets for 1 images"):
        mean_average_precision([np.zeros((0, 6))] * 2, [(np.zeros((0, 4)), np.zeros(0, int))], 3)


def test_metric_on_perfect_predictions_is_one() -> None:
    """Raw predictions that encode the truth exactly, with confident classes, give mAP 1."""
    from zoo.models.ssd.priors import VARIANCES, SourceSpec

    priors = make_priors([SourceSpec(2, 24, 0, ())], 48).astype(np.float64)  # 4 priors
    truths = [priors[[0, 3]] + 0.01, priors[[1]]]
    labels = [np.array([1, 2]), np.array([2])]
    out = np.zeros((2, 4, 4 + 3))
    out[..., 4] = 5.0  # background elsewhere
    for i, (t, lab, idx) in enumerate(zip(truths, labels, ([0, 3], [1]))):
        out[i, idx, :4] = encode_boxes(t, priors[idx], VARIANCES)
        out[i, idx, 4] = 0.0
        out[i, idx, 4 + lab] = 8.0
    metric = MeanAveragePrecision(priors, 3)
    metric.update(out[:1], pad_targets(truths[:1], labels[:1], 2))
    metric.update(out[1:], pad_targets(truths[1:], labels[1:], 2))
    assert metric.result() == pytest.approx(1.0)
    metric.reset()
    with pytest.raises(ValueError, match="no samples"):
        metric.result()
