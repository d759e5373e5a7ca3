"""Losses: hand-computed values, finite-difference gradients, ONNX and PyTorch references, errors, config."""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, Loss, MSELoss,
                                     MultiLabelSoftMarginLoss, NLLLoss, SmoothL1Loss)
from tests.helpers.gradcheck import assert_close, numeric_grad
from tests.helpers.onnx_ref import run_node

Inputs = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray]]


class Case(NamedTuple):
    loss: Callable[[], Loss]
    inputs: Inputs


def _indices(shape: tuple[int, ...], classes: int, ignore: int | None = None) -> Inputs:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        target = rng.integers(0, classes, shape[:1] + shape[2:])
        if ignore is not None:
            target.reshape(-1)[::3] = ignore
        return rng.standard_normal(shape), target
    return make


def _probs(shape: tuple[int, ...]) -> Inputs:
    def make(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        t = rng.random(shape)
        return rng.standard_normal(shape), t / t.sum(axis=1, keepdims=True)
    return make


def _pairs(shape: tuple[int, ...], output: str = "normal", target: str = "normal") -> Inputs:
    draw = {"normal": lambda r: r.standard_normal(shape), "prob": lambda r: r.uniform(0.05, 0.95, shape),
            "binary": lambda r: r.integers(0, 2, shape).astype(np.float64)}
    return lambda rng: (draw[output](rng), draw[target](rng))


CASES = {
    "ce": Case(CrossEntropyLoss, _indices((3, 4), 4)),
    "ce_weight_sum": Case(lambda: CrossEntropyLoss(weight=[0.5, 2.0, 1.0], reduction="sum"), _indices((5, 3), 3)),
    "ce_smooth_ignore": Case(lambda: CrossEntropyLoss(weight=[1.0, 0.3, 2.0, 0.7], label_smoothing=0.15,
                                                      ignore_index=1), _indices((6, 4), 4, ignore=1)),
    "ce_spatial": Case(lambda: CrossEntropyLoss(weight=[1.0, 2.0, 0.5], ignore_index=0), _indices((2, 3, 2, 3), 3, 0)),
    "ce_spatial_smooth": Case(lambda: CrossEntropyLoss(weight=[1.0, 2.0, 0.5], label_smoothing=0.1),
                              _indices((2, 3, 1, 3), 3, ignore=-100)),
    "ce_soft": Case(lambda: CrossEntropyLoss(weight=[1.0, 2.0, 0.5, 1.5, 1.0], label_smoothing=0.2), _probs((3, 5))),
    "ce_soft_spatial_sum": Case(lambda: CrossEntropyLoss(reduction="sum"), _probs((2, 3, 2, 1))),
    "nll": Case(lambda: NLLLoss(weight=[1.0, 3.0, 0.5], ignore_index=2), _indices((4, 3), 3, ignore=2)),
    "nll_spatial_sum": Case(lambda: NLLLoss(reduction="sum"), _indices((2, 4, 3), 4)),
    "bce": Case(lambda: BCELoss(weight=[[1.0, 2.0, 0.5]]), _pairs((4, 3), "prob", "binary")),
    "bce_soft_sum": Case(lambda: BCELoss(reduction="sum"), _pairs((2, 5), "prob", "prob")),
    "bce_logits": Case(lambda: BCEWithLogitsLoss(pos_weight=[3.0, 0.5, 1.0]), _pairs((4, 3), "normal", "binary")),
    "bce_logits_weight_sum": Case(lambda: BCEWithLogitsLoss(weight=[2.0, 1.0], reduction="sum",
                                                            pos_weight=[0.5, 4.0]), _pairs((3, 2), "normal", "prob")),
    "mse": Case(MSELoss, _pairs((2, 3, 2))),
    "mse_sum": Case(lambda: MSELoss(reduction="sum"), _pairs((5,))),
    "l1": Case(L1Loss, _pairs((3, 5))),
    "l1_sum": Case(lambda: L1Loss(reduction="sum"), _pairs((2, 1, 3))),
    "smooth_l1": Case(SmoothL1Loss, _pairs((4, 3))),
    "smooth_l1_beta_sum": Case(lambda: SmoothL1Loss(reduction="sum", beta=0.5), _pairs((3, 4))),
    "smooth_l1_beta0": Case(lambda: SmoothL1Loss(beta=0.0), _pairs((5,))),
    "multilabel": Case(lambda: MultiLabelSoftMarginLoss(weight=[1.0, 0.2, 3.0]), _pairs((4, 3), "normal", "binary")),
    "multilabel_1d_sum": Case(lambda: MultiLabelSoftMarginLoss(reduction="sum"), _pairs((5,), "normal", "binary")),
}


def _case(key: str) -> tuple[Loss, np.ndarray, np.ndarray]:
    loss = CASES[key].loss()
    output, target = CASES[key].inputs(np.random.default_rng(7))
    return loss, output, target


# ------------------------------------------------------------------ closed form
LN2, LN3 = math.log(2), math.log(3)


@pytest.mark.parametrize("loss, output, target, expected", [
    # probabilities (1/4, 3/4); weighted mean divides by the weights of the targets (2 + 1)
    (CrossEntropyLoss(weight=[1.0, 2.0]), [[0.0, LN3], [0.0, LN3]], [1, 0],
     (2 * -math.log(0.75) - math.log(0.25)) / 3),
    (CrossEntropyLoss(label_smoothing=0.2), [[0.0, LN3]], [1],
     0.8 * -math.log(0.75) + 0.1 * -(math.log(0.25) + math.log(0.75))),
    (CrossEntropyLoss(ignore_index=0), [[0.0, LN3], [5.0, 1.0]], [1, 0], -math.log(0.75)),
    (CrossEntropyLoss(), [[0.0, LN3]], [[0.5, 0.5]], -(0.5 * math.log(0.25) + 0.5 * math.log(0.75))),
    (NLLLoss(), [[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5]], [2, 0], 1.75),
    (NLLLoss(weight=[4.0, 1.0, 1.0], reduction="sum"), [[-1.0, -2.0, -3.0], [-0.5, -1.5, -2.5]], [2, 0], 5.0),
    (BCELoss(), [0.8, 0.4], [1.0, 0.0], -(math.log(0.8) + math.log(0.6)) / 2),
    (BCELoss(), [0.0, 1.0], [1.0, 0.0], 100.0),  # log clamped at -100
    (BCEWithLogitsLoss(pos_weight=[3.0, 1.0]), [[0.0, 0.0]], [[1.0, 1.0]], 2 * LN2),
    (BCEWithLogitsLoss(reduction="sum"), [1000.0, -1000.0], [0.0, 1.0], 2000.0),  # stable for huge logits
    (MSELoss(), [1.0, 2.0], [0.0, 0.0], 2.5),
    (L1Loss(reduction="sum"), [1.0, -2.0], [0.0, 0.0], 3.0),
    (SmoothL1Loss(), [0.5, 3.0], [0.0, 0.0], (0.125 + 2.5) / 2),
    (SmoothL1Loss(beta=0.0, reduction="sum"), [0.5, -3.0], [0.0, 0.0], 3.5),
    (MultiLabelSoftMarginLoss(weight=[1.0, 3.0]), [[0.0, 0.0]], [[1.0, 0.0]], 2 * LN2),
])
def test_closed_form_values(loss: Loss, output: list, target: list, expected: float) -> None:
    assert loss(np.array(output), np.array(target)) == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_gradient_closed_form() -> None:
    """d/dx = weight[y] * (softmax(x) - onehot(y)) / sum of the target weights."""
    grad = CrossEntropyLoss(weight=[1.0, 2.0]).backward(np.array([[0.0, LN3], [0.0, LN3]]), np.array([1, 0]))
    np.testing.assert_allclose(grad, np.array([[2 * 0.25, 2 * -0.25], [1 * -0.75, 1 * 0.75]]) / 3)


def test_bce_gradient_at_saturated_probabilities_is_finite() -> None:
    """As PyTorch: (x - t) / max(x (1 - x), 1e-12)."""
    grad = BCELoss(reduction="sum").backward(np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(grad, [-1e12, 1e12, -2.0])


def test_all_targets_ignored_gives_nan_loss_and_zero_gradient() -> None:
    loss, x, t = CrossEntropyLoss(ignore_index=1), np.zeros((2, 3)), np.array([1, 1])
    assert math.isnan(loss(x, t))
    assert not loss.backward(x, t).any()


# -------------------------------------------------------------------- gradients
@pytest.mark.parametrize("key", CASES)
def test_backward_matches_finite_differences(key: str) -> None:
    loss, output, target = _case(key)
    analytic = loss.backward(output, target)
    assert analytic.dtype == np.float64
    assert_close(analytic, numeric_grad(lambda: loss.forward(output, target), output), key, 1e-5, 1e-8)


@pytest.mark.parametrize("key", CASES)
def test_float32_stays_float32_and_agrees_with_float64(key: str) -> None:
    loss, output, target = _case(key)
    low = output.astype(np.float32)
    target32 = target.astype(np.float32) if np.issubdtype(target.dtype, np.floating) else target
    assert loss.backward(low, target32).dtype == np.float32
    assert loss(low, target32) == pytest.approx(loss(output, target), rel=1e-5)


# ------------------------------------------------------------------- references
@pytest.mark.parametrize("key", CASES)
def test_matches_torch(key: str) -> None:
    import torch
    loss, output, target = _case(key)
    config = {k: torch.tensor(v, dtype=torch.float64) if k in ("weight", "pos_weight") and v is not None else v
              for k, v in loss.get_config().items()}
    x = torch.tensor(output, requires_grad=True)
    value = getattr(torch.nn, type(loss).__name__)(**config)(x, torch.tensor(target))
    value.backward()
    assert loss(output, target) == pytest.approx(value.item(), rel=1e-10)
    np.testing.assert_allclose(loss.backward(output, target), x.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("key, op", [("ce", "SoftmaxCrossEntropyLoss"), ("ce_weight_sum", "SoftmaxCrossEntropyLoss"),
                                     ("ce_spatial", "SoftmaxCrossEntropyLoss"), ("nll", "NegativeLogLikelihoodLoss"),
                                     ("nll_spatial_sum", "NegativeLogLikelihoodLoss")])
def test_matches_onnx_reference(key: str, op: str) -> None:
    loss, output, target = _case(key)
    weight = None if loss.weight is None else loss.weight.astype(np.float32)
    x = output.astype(np.float32)
    (expected,) = run_node(op, [x, target.astype(np.int64), weight], ignore_index=loss.ignore_index,
                           reduction=loss.reduction)
    assert loss(x, target) == pytest.approx(float(expected), rel=1e-5)


# ----------------------------------------------------------------------- errors
@pytest.mark.parametrize("loss, output, target, message", [
    (CrossEntropyLoss(), np.zeros((4, 3)), np.array([0, 2, 3, 1]),
     r"CrossEntropyLoss: target\[2\] = 3 is not a class index in \[0, 3\)"),
    (NLLLoss(name="head"), np.zeros((2, 3, 2)), np.array([[0, 1], [-1, 2]]),
     r"NLLLoss\('head'\): target\[1, 0\] = -1 is not a class index"),
    (CrossEntropyLoss(), np.zeros((4, 3)), np.array([0, 1, 2]),
     r"CrossEntropyLoss: target shape \(3,\) does not match output shape \(4, 3\); expected .* \(4,\)"),
    (CrossEntropyLoss(), np.zeros((2, 3)), np.array([0.0, 1.5]), r"target\[1\] = 1.5"),
    (CrossEntropyLoss(), np.zeros((2, 3)), np.zeros((2, 3), np.int64), r"probabilities and must be floating"),
    (CrossEntropyLoss(weight=[1.0, 2.0]), np.zeros((2, 3)), np.array([0, 1]), r"weight has shape \(2,\) .* 3 classes"),
    (NLLLoss(), np.zeros(3), np.array(0), r"NLLLoss: output must be \(N, C\)"),
    (MSELoss(), np.zeros((4, 1)), np.zeros(4), r"MSELoss: target shape \(4,\) does not match output shape \(4, 1\)"),
    (BCELoss(), np.array([[0.5, 0.2], [1.5, 0.1]]), np.zeros((2, 2)), r"BCELoss: .* output\[1, 0\] = 1.5"),
    (BCEWithLogitsLoss(pos_weight=[1.0, 2.0, 3.0]), np.zeros((2, 2)), np.zeros((2, 2)),
     r"pos_weight of shape \(3,\) does not broadcast to output shape \(2, 2\)"),
    (MultiLabelSoftMarginLoss(), np.zeros((2, 2, 2)), np.zeros((2, 2, 2)), r"output must be \(N, C\) or \(C,\)"),
])
def test_bad_targets_are_clear_errors(loss: Loss, output: np.ndarray, target: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        loss.forward(output, target)


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ValueError, match="reduction must be one of"):
        MSELoss(reduction="none")
    with pytest.raises(ValueError, match="label_smoothing"):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="beta"):
        SmoothL1Loss(beta=-1.0)


# ----------------------------------------------------------------------- config
@pytest.mark.parametrize("key", CASES)
def test_config_rebuilds_an_identical_loss(key: str) -> None:
    loss, output, target = _case(key)
    clone = LAYER_REGISTRY[type(loss).__name__](**loss.get_config())
    assert clone.get_config() == loss.get_config()
    assert clone(output, target) == loss(output, target)


@pytest.mark.parametrize("alias, cls", [("ClassNLLCriterion", NLLLoss), ("BCECriterion", BCELoss),
                                        ("MSECriterion", MSELoss), ("AbsCriterion", L1Loss),
                                        ("SmoothL1Criterion", SmoothL1Loss), ("CrossEntropyCriterion", CrossEntropyLoss),
                                        ("MultiLabelSoftMarginCriterion", MultiLabelSoftMarginLoss)])
def test_bigdl_aliases(alias: str, cls: type) -> None:
    assert LAYER_REGISTRY[alias] is cls
