"""Metrics against hand-computed values, batch accumulation, merging partial states and errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn.losses import MSELoss
from bigdl_runtime.train import (AUC, MAE, BinaryAccuracy, Loss, Top1Accuracy, TopKAccuracy, get_metric)

SCORES = np.array([[0.1, 0.7, 0.2],    # top1 class 1, order 1 > 2 > 0
                   [0.5, 0.3, 0.2],    # top1 class 0, order 0 > 1 > 2
                   [0.2, 0.3, 0.5],    # top1 class 2, order 2 > 1 > 0
                   [0.6, 0.1, 0.3]])   # top1 class 0, order 0 > 2 > 1
LABELS = np.array([1, 1, 0, 2])        # top1 hits: yes, no, no, no; top2 hits: yes, yes, no, yes


@pytest.mark.parametrize("metric, output, target, expected", [
    (Top1Accuracy(), SCORES, LABELS, 1 / 4),
    (TopKAccuracy(2), SCORES, LABELS, 3 / 4),
    (TopKAccuracy(5), SCORES, LABELS, 1.0),   # k above the class count: every sample hits
    (MAE(), np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.5, 2.0], [1.0, 5.0]]), (0.5 + 0 + 2 + 1) / 4),
    (Loss(MSELoss()), np.array([[1.0], [2.0], [4.0]]), np.array([[0.0], [2.0], [2.0]]), (1 + 0 + 4) / 3),
    (BinaryAccuracy(), np.array([0.2, 0.6, 0.5, 0.9]), np.array([0, 0, 1, 1]), 2 / 4),
    (BinaryAccuracy(threshold=0.3), np.array([[0.2], [0.6], [0.5], [0.9]]), np.array([0, 0, 1, 1]), 3 / 4),
    (BinaryAccuracy(from_logits=True), np.array([-1.0, 0.5, -0.1, 2.0]), np.array([0, 1, 1, 1]), 3 / 4),
    (BinaryAccuracy(threshold=0.9, from_logits=True), np.array([2.0, 2.5]), np.array([0, 1]), 1.0),
    # positives 0.8, 0.4, 0.6; negatives 0.3, 0.4, 0.1: 8 of 9 pairs ordered right, one tie (0.4, 0.4)
    (AUC(), np.array([0.8, 0.3, 0.4, 0.4, 0.6, 0.1]), np.array([1, 0, 1, 0, 1, 0]), 8.5 / 9),
    (AUC(), np.array([[0.2, 0.8], [0.7, 0.3], [0.6, 0.4]]), np.array([1, 0, 1]), 1.0),
    (AUC(), np.array([0.9, 0.1]), np.array([0, 1]), 0.0),
])
def test_metric_matches_hand_computed_value(metric, output, target, expected):
    metric.update(output, target)
    assert metric.result() == pytest.approx(expected)


@pytest.mark.parametrize("make", [Top1Accuracy, lambda: TopKAccuracy(3), lambda: Loss(MSELoss()), MAE, AUC,
                                  BinaryAccuracy])
def test_batches_and_merged_partitions_equal_one_pass(make):
    rng = np.random.default_rng(0)
    binary = isinstance(make(), (AUC, BinaryAccuracy))
    output = rng.random((23, 1 if binary else 5))
    target = (rng.random(23) > 0.5).astype(np.int64) if binary else rng.integers(0, 5, 23)
    if isinstance(make(), (MAE, Loss)):
        target = rng.random(output.shape)
    whole = make()
    whole.update(output, target)
    batched = make()
    for start in range(0, 23, 4):
        batched.update(output[start:start + 4], target[start:start + 4])
    merged = make()
    for part in np.array_split(np.arange(23), 3):   # three "partitions", each its own metric
        partial = make()
        partial.update(output[part], target[part])
        merged.merge(partial.state())
    assert batched.result() == pytest.approx(whole.result())
    assert merged.result() == pytest.approx(whole.result())


def test_reset_forgets_and_empty_result_is_an_error():
    m = Top1Accuracy()
    m.update(SCORES, LABELS)
    m.reset()
    with pytest.raises(ValueError, match="no samples"):
        m.result()
    assert m.state() == (0, 0)


@pytest.mark.parametrize("name, cls, metric_name", [
    ("top1", Top1Accuracy, "top1"), ("top5", TopKAccuracy, "top5"), ("Top3", TopKAccuracy, "top3"),
    ("mae", MAE, "mae"), ("binary_accuracy", BinaryAccuracy, "binary_accuracy"), ("auc", AUC, "auc"),
])
def test_get_metric_by_name(name, cls, metric_name):
    m = get_metric(name)
    assert isinstance(m, cls) and m.name == metric_name


def test_get_metric_loss_needs_the_loss_and_instances_are_reset():
    with pytest.raises(ValueError, match="loss module"):
        get_metric("loss")
    loss = MSELoss()
    assert get_metric("loss", loss=loss).loss_fn is loss
    m = MAE()
    m.update(np.ones(3), np.zeros(3))
    assert get_metric(m) is m and m.state() == (0.0, 0)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        get_metric("f1")


@pytest.mark.parametrize("metric, output, target, match", [
    (Top1Accuracy(), np.zeros(4), np.zeros(4), r"\(N, classes\)"),
    (Top1Accuracy(), np.zeros((4, 3)), np.zeros(5), "4 outputs but 5 targets"),
    (MAE(), np.zeros((2, 3)), np.zeros(5), "does not match"),
    (BinaryAccuracy(), np.zeros((4, 2)), np.zeros(4), "use top1"),
    (AUC(), np.zeros((4, 3)), np.zeros(4), r"\(N, 2\)"),
])
def test_bad_shapes_raise(metric, output, target, match):
    with pytest.raises(ValueError, match=match):
        metric.update(output, target)


def test_auc_needs_both_classes_and_binary_threshold_range():
    m = AUC()
    m.update(np.array([0.3, 0.6]), np.array([1, 1]))
    with pytest.raises(ValueError, match="both classes"):
        m.result()
    with pytest.raises(ValueError, match="threshold"):
        BinaryAccuracy(threshold=1.0)
