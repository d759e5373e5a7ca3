"""The multibox loss: hand-computed value, hard negative mining, finite-difference gradient."""
from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.gradcheck import assert_close, numeric_grad
from zoo.models.ssd import MultiBoxLoss, pad_targets
from zoo.models.ssd.loss import hard_negatives

PRIORS = np.array([[0, 0, .5, .5], [.5, 0, 1, .5], [0, .5, .5, 1], [.5, .5, 1, 1], [.25, .25, .75, .75], [0, 0, 1, 1]])


def test_loss_by_hand() -> None:
    # one truth equal to prior 0 (label 1): one positive, 3 hard negatives, zero offsets
    target = pad_targets([PRIORS[:1]], [np.array([1])], 2)
    out = np.zeros((1, 6, 4 + 3))
    out[0, :, 4:] = np.log([[0.2, 0.6, 0.2], [0.5, 0.25, 0.25], [0.9, 0.05, 0.05], [0.4, 0.3, 0.3],
                            [0.7, 0.2, 0.1], [0.8, 0.1, 0.1]])
    out[0, 0, :4] = [0.5, -2.0, 0.0, 0.0]  # smooth L1: 0.125 + 1.5
    # hardest negatives by -log p(background): priors 3 (0.4), 1 (0.5), 4 (0.7)
    want = -np.log(0.6) - np.log(0.4) - np.log(0.5) - np.log(0.7) + 0.125 + 1.5
    assert MultiBoxLoss(PRIORS, 3).forward(out, target) == pytest.approx(want, rel=1e-12)
    assert MultiBoxLoss(PRIORS, 3, neg_pos_ratio=1, alpha=2).forward(out, target) == pytest.approx(
        -np.log(0.6) - np.log(0.4) + 2 * 1.625, rel=1e-12)


def test_hard_negatives_take_ratio_per_positive_and_never_positives() -> None:
    bg_loss = np.array([[5.0, 4.0, 3.0, 2.0, 1.0, 0.5], [1, 2, 3, 4, 5, 6.0]])
    pos = np.array([[True, False, False, False, False, False], [True, True, False, False, False, False]])
    neg = hard_negatives(bg_loss, pos, 3.0)
    assert neg[0].tolist() == [False, True, True, True, False, False]
    assert neg[1].tolist() == [False, False, True, True, True, True]  # capped at the 4 negatives there are
    assert not hard_negatives(bg_loss, np.zeros_like(pos), 3.0).any()


def test_backward_matches_finite_differences(rng: np.random.Generator) -> None:
    target = pad_targets([np.array([[0.05, 0.0, 0.5, 0.45]]), np.array([[0.5, 0.5, 1, 1], [0.2, 0.3, 0.8, 0.7]])],
                         [np.array([2]), np.array([1, 2])], 3)
    out = rng.standard_normal((2, 6, 7))
    out[..., :4] *= 2  # both branches of smooth L1
    loss = MultiBoxLoss(PRIORS, 3)
    grad = loss.backward(out, target)
    assert grad.dtype == np.float64
    assert_close(grad, numeric_grad(lambda: loss.forward(out, target), out), "multibox", rtol=1e-5, atol=1e-8)
    assert loss.backward(out.astype(np.float32), target).dtype == np.float32


def test_loss_errors() -> None:
    loss = MultiBoxLoss(PRIORS, 3)
    with pytest.raises(ValueError, match=r"output must be \(N, 6, 7\)"):
        loss.forward(np.zeros((1, 5, 7)), np.zeros((1, 1, 5)))
    with pytest.raises(ValueError, match="target must be"):
        loss.forward(np.zeros((1, 6, 7)), np.zeros((1, 5)))
    with pytest.raises(ValueError, match="below num_classes=3"):
        loss.forward(np.zeros((1, 6, 7)), pad_targets([PRIORS[:1]], [np.array([3])]))
    with pytest.raises(ValueError, match=r"priors must be \(P, 4\)"):
        MultiBoxLoss(np.zeros((3, 5)), 3)


def test_loss_survives_the_model_file(rng: np.random.Generator) -> None:
    from bigdl_runtime.serialization import model_from_bytes, model_to_bytes

    loss = MultiBoxLoss(PRIORS, 3, neg_pos_ratio=2.0, alpha=0.5)
    loaded = model_from_bytes(model_to_bytes(loss))
    out, target = rng.standard_normal((1, 6, 7)), pad_targets([PRIORS[:1]], [np.array([2])])
    assert loaded.get_config()["neg_pos_ratio"] == 2.0
    assert loaded.forward(out, target) == loss.forward(out, target)
