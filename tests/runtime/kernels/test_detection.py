"""Detection box geometry against hand-computed cases: prior boxes, encode/decode, IoU, NMS."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import detection as K

S = np.sqrt(2.0)


def test_prior_boxes_of_a_2x2_map_by_hand() -> None:
    pri = K.prior_boxes((2, 2), (100, 100), [30], [60], [2.0], flip=True, variances=[0.1, 0.1, 0.2, 0.2],
                        dtype=np.float64)
    assert pri.shape == (2, 2 * 2 * 4 * 4)
    boxes = pri[0].reshape(2, 2, 4, 4)  # (row, col, prior, coord)
    big = np.sqrt(30 * 60) / 2  # half side of the sqrt(min * max) square
    # cell (row 0, col 1): centre (75, 25) with step 100 / 2 = 50, offset 0.5
    want = np.array([[75 - 15, 25 - 15, 75 + 15, 25 + 15],
                     [75 - big, 25 - big, 75 + big, 25 + big],
                     [75 - 15 * S, 25 - 15 / S, 75 + 15 * S, 25 + 15 / S],   # ratio 2: w = 30 sqrt2, h = 30 / sqrt2
                     [75 - 15 / S, 25 - 15 * S, 75 + 15 / S, 25 + 15 * S]]) / 100  # flipped ratio 1/2
    np.testing.assert_allclose(boxes[0, 1], want, atol=1e-12)
    np.testing.assert_allclose(boxes[1, 0], want + np.array([-0.5, 0.5, -0.5, 0.5]), atol=1e-12)
    np.testing.assert_allclose(pri[1].reshape(-1, 4), np.tile([0.1, 0.1, 0.2, 0.2], (16, 1)))


def test_prior_boxes_clip_step_offset_and_single_variance() -> None:
    pri = K.prior_boxes((1, 2), (10, 20), [8], clip=True, step_hw=(4, 6), offset=0.0, variances=[0.3])
    # centres at (0, 0) and (6, 0): half size 4 -> clipped at the image border
    np.testing.assert_allclose(pri[0].reshape(-1, 4), [[0, 0, 4 / 20, 4 / 10], [2 / 20, 0, 10 / 20, 4 / 10]],
                               atol=1e-7)
    assert pri.dtype == np.float32 and np.all(pri[1] == np.float32(0.3))


def test_aspect_ratios_skip_duplicates_and_flip() -> None:
    assert K.expand_aspect_ratios([2.0, 2.0, 1.0, 0.5]) == [1.0, 2.0, 0.5]
    assert K.expand_aspect_ratios([3.0], flip=False) == [1.0, 3.0]
    assert len(K.prior_box_sizes([30, 40], [60, 80], [2, 3])) == 2 * (1 + 1 + 4)


@pytest.mark.parametrize("kwargs, match", [
    ({"min_sizes": []}, "at least one min_size"),
    ({"min_sizes": [10], "max_sizes": [5]}, "larger than min_size"),
    ({"min_sizes": [10], "max_sizes": [20, 30]}, "must match"),
    ({"min_sizes": [10], "aspect_ratios": [-1]}, "positive"),
    ({"min_sizes": [10], "variances": [0.1, 0.2]}, "1 or 4 positive variances"),
])
def test_prior_box_errors(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        K.prior_boxes((2, 2), (10, 10), **kwargs)


def test_encode_by_hand_and_round_trip(rng: np.random.Generator) -> None:
    prior = np.array([[0.2, 0.2, 0.6, 0.4]])  # centre (0.4, 0.3), size (0.4, 0.2)
    box = np.array([[0.3, 0.2, 0.7, 0.6]])  # centre (0.5, 0.4), size (0.4, 0.4)
    var = [0.1, 0.1, 0.2, 0.2]
    want = [[0.1 / 0.4 / 0.1, 0.1 / 0.2 / 0.1, np.log(1.0) / 0.2, np.log(2.0) / 0.2]]
    np.testing.assert_allclose(K.encode_boxes(box, prior, var), want, atol=1e-12)
    np.testing.assert_allclose(K.decode_boxes(np.array(want), prior, var), box, atol=1e-12)

    lo = rng.uniform(0, 0.5, (50, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.05, 0.5, (50, 2))], axis=1)
    lo = rng.uniform(0, 0.5, (50, 2))
    priors = np.concatenate([lo, lo + rng.uniform(0.05, 0.5, (50, 2))], axis=1)
    for code in ("CENTER_SIZE", "CORNER"):
        loc = K.encode_boxes(boxes, priors, var, code)
        np.testing.assert_allclose(K.decode_boxes(loc, priors, var, code), boxes, atol=1e-12)
    # variance already in the target: decode with unit variances
    loc = K.encode_boxes(boxes, priors, [1, 1, 1, 1])
    np.testing.assert_allclose(K.decode_boxes(loc, priors, var, variance_encoded_in_target=True), boxes, atol=1e-12)
    with pytest.raises(ValueError, match="code_type"):
        K.decode_boxes(loc, priors, var, "CORNER_SIZE")


def test_iou_by_hand() -> None:
    a = np.array([[0, 0, 2, 2], [0, 0, 1, 1.0]])
    b = np.array([[1, 1, 3, 3], [5, 5, 6, 6], [0, 0, 2, 2], [1, 0, 1, 1.0]])
    np.testing.assert_allclose(K.iou(a, b), [[1 / 7, 0, 1, 0], [0, 0, 0.25, 0]])
    assert K.box_areas(np.array([2, 2, 1, 3.0])) == 0  # inverted box


def test_nms_on_hand_built_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10],     # 0: score 0.9, kept
                      [1, 1, 11, 11],     # 1: IoU 81/119 = 0.68 with 0 -> suppressed
                      [20, 20, 30, 30],   # 2: alone -> kept
                      [0, 5, 10, 15],     # 3: IoU 50/150 = 0.33 with 0 -> kept at 0.5, suppressed at 0.3
                      [21, 20, 31, 30]],  # 4: IoU 90/110 with 2 -> suppressed
                     dtype=np.float64)
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95])
    assert K.nms(boxes, scores, 0.5).tolist() == [4, 0, 3]
    assert K.nms(boxes, scores, 0.3).tolist() == [4, 0]
    assert K.nms(boxes, scores, 0.5, score_threshold=0.65).tolist() == [4, 0]  # 3 filtered by score
    assert K.nms(boxes, scores, 0.5, top_k=2).tolist() == [4, 0]
    assert K.nms(boxes, scores, 0.5, max_output=1).tolist() == [4]
    assert K.nms(boxes, scores, 0.9).tolist() == [4, 0, 1, 2, 3]  # nothing overlaps by more than 0.9
    assert K.nms(boxes, scores, 0.5, score_threshold=1.0).size == 0


def test_nms_ties_and_adaptive_eta() -> None:
    boxes = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0.4, 1, 1.4]], dtype=np.float64)
    assert K.nms(boxes, np.array([0.5, 0.5, 0.4]), 0.5).tolist() == [0, 2]  # tie: lower index first
    # IoU(0, 2) = 0.6/1.4 = 0.43: kept at 0.55; with eta 0.75 the threshold drops to 0.41 after the first keep
    assert K.nms(boxes[[0, 2]], np.array([0.9, 0.8]), 0.55).tolist() == [0, 1]
    assert K.nms(boxes[[0, 2]], np.array([0.9, 0.8]), 0.55, eta=0.75).tolist() == [0]
    assert K.nms(boxes[[0, 2]], np.array([0.9, 0.8]), 0.5, eta=0.75).tolist() == [0, 1]  # only above 0.5


def test_multiclass_nms_keep_top_k_orders_by_label() -> None:
    boxes = np.array([[0, 0, 1, 1], [2, 2, 3, 3], [0, 0, 1, 1.05]], dtype=np.float64)
    scores = np.array([[0.1, 0.7, 0.2], [0.1, 0.3, 0.6], [0.05, 0.65, 0.3]])
    rows = K.multiclass_nms(boxes, scores, nms_threshold=0.5, confidence_threshold=0.25)
    # class 1: boxes 0 (0.7) and 2 (0.65) overlap -> 0, plus 1 (0.3); class 2: 1 (0.6), 2 (0.3)
    np.testing.assert_allclose(rows[:, :2], [[1, 0.7], [1, 0.3], [2, 0.6], [2, 0.3]])
    np.testing.assert_allclose(rows[0, 2:], boxes[0])
    top = K.multiclass_nms(boxes, scores, nms_threshold=0.5, keep_top_k=2, confidence_threshold=0.25)
    np.testing.assert_allclose(top[:, :2], [[1, 0.7], [2, 0.6]])


def test_detection_output_decodes_and_reports_empty_batches() -> None:
    priors = K.prior_boxes((1, 2), (10, 20), [10], variances=[0.1, 0.1, 0.2, 0.2], dtype=np.float64)
    pbox = priors[0].reshape(-1, 4)
    target = np.array([[0.1, 0.1, 0.4, 0.9], [0.6, 0.2, 0.9, 0.8]])
    loc = K.encode_boxes(target, pbox, [0.1, 0.1, 0.2, 0.2]).reshape(1, -1)
    conf = np.array([[0.2, 0.8, 0.0, 0.9, 0.1, 0.0]])  # 2 priors x 3 classes
    rows = K.detection_output(loc, conf, priors, 3, confidence_threshold=0.5)
    # prior 0: class 1 (0.8) decodes to target 0; prior 1 scores 0.9 for the background only
    np.testing.assert_allclose(rows, [[0, 1, 0.8, *target[0]]], atol=1e-12)
    empty = K.detection_output(np.zeros((2, 8)), np.full((2, 6), 0.1), priors, 3, confidence_threshold=0.5)
    np.testing.assert_array_equal(empty, [[0, -1, -1, -1, -1, -1, -1], [1, -1, -1, -1, -1, -1, -1]])
    with pytest.raises(ValueError, match="loc has 6 values per image"):
        K.detection_output(np.zeros((1, 6)), conf, priors, 3)
