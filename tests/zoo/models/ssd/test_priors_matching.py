"""SSD prior layouts and prior/truth matching, against hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import PriorBox
from zoo.models.ssd import SSD300_SOURCES, encode_targets, make_priors, match_priors, pad_targets, unpad_targets
from zoo.models.ssd.mini import IMAGE_SIZE, MINI_SOURCES, NUM_PRIORS


def test_ssd300_has_8732_priors_in_the_papers_layout() -> None:
    assert [s.size for s in SSD300_SOURCES] == [38, 19, 10, 5, 3, 1]
    assert [s.priors_per_cell for s in SSD300_SOURCES] == [4, 6, 6, 6, 4, 4]
    priors = make_priors(SSD300_SOURCES, 300)
    assert priors.shape == (8732, 4)
    # first prior: cell (0, 0) of conv4_3, centre (4, 4) px (step 8), side 30 px
    np.testing.assert_allclose(priors[0], np.array([4 - 15, 4 - 15, 4 + 15, 4 + 15]) / 300, atol=1e-7)
    # the last prior: the 1x1 map's ratio-1/2 box (w = 264 / sqrt2, h = 264 * sqrt2) centred at 150
    w, h = 264 / np.sqrt(2), 264 * np.sqrt(2)
    np.testing.assert_allclose(priors[-1], np.array([150 - w / 2, 150 - h / 2, 150 + w / 2, 150 + h / 2]) / 300,
                               atol=1e-6)


def test_make_priors_equals_the_prior_box_layers() -> None:
    priors = make_priors(MINI_SOURCES, IMAGE_SIZE)
    assert priors.shape == (NUM_PRIORS, 4)
    layers = [PriorBox(**s.prior_box_config(IMAGE_SIZE))(np.zeros((1, 1, s.size, s.size), np.float32))
              for s in MINI_SOURCES]
    np.testing.assert_array_equal(np.concatenate([p[0, 0] for p in layers]).reshape(-1, 4), priors)


def test_match_priors_by_threshold_and_best_prior() -> None:
    priors = np.array([[0, 0, 0.5, 0.5], [0.5, 0, 1, 0.5], [0, 0, 0.45, 0.5], [0.5, 0.5, 1, 1]])
    truths = np.array([[0, 0, 0.5, 0.5],          # IoU 1 with prior 0, 0.9 with prior 2
                       [0.55, 0.55, 1, 0.8]])     # best IoU 0.495 (prior 3), below the threshold
    labels, index = match_priors(truths, np.array([3, 5]), priors, threshold=0.5)
    assert labels.tolist() == [3, 0, 3, 5]       # prior 3 is truth 1's forced best match
    assert index[[0, 2, 3]].tolist() == [0, 0, 1]
    empty_labels, _ = match_priors(np.zeros((0, 4)), np.zeros(0, int), priors)
    assert not empty_labels.any()


def test_pad_unpad_and_encode_targets() -> None:
    boxes = [np.array([[0.1, 0.1, 0.5, 0.5]]), np.zeros((0, 4)), np.array([[0.45, 0.45, 1, 1], [0.2, 0.2, 0.4, 0.6]])]
    labels = [np.array([2]), np.zeros(0, int), np.array([1, 3])]
    padded = pad_targets(boxes, labels, 3)
    assert padded.shape == (3, 3, 5) and padded[1, :, 0].tolist() == [-1, -1, -1]
    for (b, lab), (want_b, want_l) in zip(unpad_targets(padded), zip(boxes, labels)):
        np.testing.assert_allclose(b, want_b, atol=1e-7)
        assert lab.tolist() == list(want_l)
    priors = np.array([[0.1, 0.1, 0.5, 0.5], [0.5, 0.5, 0.9, 0.9]])
    cls, loc = encode_targets(padded, priors, [0.1, 0.1, 0.2, 0.2])
    assert cls.tolist() == [[2, 0], [0, 0], [3, 1]]  # image 3: truth 1 claims prior 0, truth 0 matches prior 1 (IoU 0.53)
    np.testing.assert_allclose(loc[0, 0], 0, atol=1e-6)  # the truth equals the prior: zero offsets
    with pytest.raises(ValueError, match="more than max_objects"):
        pad_targets(boxes, labels, 1)
    with pytest.raises(ValueError, match="label below 1"):
        encode_targets(pad_targets([np.array([[0, 0, 1, 1.0]])], [np.array([0])]), priors, [0.1] * 4)
