"""Binary and multi-label losses: BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import Loss, as_weight, first_bad, weight_config


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) without overflow."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class BCELoss(Loss):
    """Binary cross-entropy between probabilities and targets.

    ``loss = -weight * (t * log(x) + (1 - t) * log(1 - x))`` with both logs
    clamped at -100 (so x = 0 or 1 gives a finite loss), and the gradient
    ``weight * (x - t) / max(x * (1 - x), 1e-12)``, both as in PyTorch.

    Args:
        weight: optional rescaling weight broadcast against the output.
        reduction: ``"mean"`` | ``"sum"``.

    Shape:
        - output: any shape, probabilities in [0, 1].
        - target: the output's shape, values in [0, 1].

    Examples:
        >>> loss = BCELoss()
        >>> value = loss(np.array([0.9, 0.2], np.float32), np.array([1.0, 0.0], np.float32))
    """

    aliases = ("BCECriterion",)

    def __init__(self, weight: Sequence[Any] | np.ndarray | None = None, reduction: str = "mean",
                 name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        self.weight = as_weight(weight)

    def get_config(self) -> dict[str, Any]:
        return {"weight": weight_config(self.weight), "reduction": self.reduction}

    def _checked(self, output: Any, target: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        output, target = self._pair(output, target)
        outside = (output < 0) | (output > 1) | np.isnan(output)
        if outside.any():
            raise ValueError(f"{self.describe()}: output must hold probabilities in [0, 1], got "
                             f"output{first_bad(outside)} = {output[outside][0]} (shape {output.shape})")
        return output, target, self._broadcast_weight(self.weight, output.shape, "weight", output.dtype)

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        x, t, w = self._checked(output, target)
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        elements = -(t * log_x + (1 - t) * log_1mx)
        if w is not None:
            elements = elements * w
        return float(elements.sum() * self._scale(x.size))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        x, t, w = self._checked(output, target)
        grad = (x - t) / np.maximum(x * (1 - x), 1e-12) * self._scale(x.size)
        return grad if w is None else grad * w


class BCEWithLogitsLoss(Loss):
    """Sigmoid plus binary cross-entropy in one numerically stable loss.

    ``loss = weight * ((1 - t) * x + (1 + (p - 1) * t) * softplus(-x))``,
    i.e. ``-weight * (p * t * log(sigmoid(x)) + (1 - t) * log(1 - sigmoid(x)))``
    with ``p = pos_weight`` (per class, broadcast along the last dimension).

    Args:
        weight: optional rescaling weight broadcast against the output.
        reduction: ``"mean"`` | ``"sum"``.
        pos_weight: optional weight of the positive examples, e.g. shape (C,).

    Shape:
        - output: any shape, logits.
        - target: the output's shape, values in [0, 1].

    Examples:
        >>> loss = BCEWithLogitsLoss(pos_weight=[2.0, 1.0])
        >>> value = loss(np.array([[0.3, -1.2]], np.float32), np.array([[1.0, 0.0]], np.float32))
    """

    def __init__(self, weight: Sequence[Any] | np.ndarray | None = None, reduction: str = "mean",
                 pos_weight: Sequence[Any] | np.ndarray | None = None, name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        self.weight = as_weight(weight)
        self.pos_weight = as_weight(pos_weight)

    def get_config(self) -> dict[str, Any]:
        return {"weight": weight_config(self.weight), "reduction": self.reduction,
                "pos_weight": weight_config(self.pos_weight)}

    def _checked(self, output: Any, target: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None,
                                                          np.ndarray | None]:
        x, t = self._pair(output, target)
        return (x, t, self._broadcast_weight(self.weight, x.shape, "weight", x.dtype),
                self._broadcast_weight(self.pos_weight, x.shape, "pos_weight", x.dtype))

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        x, t, w, p = self._checked(output, target)
        positive = t if p is None else t * p
        elements = (1 - t) * x + (1 - t + positive) * softplus(-x)
        if w is not None:
            elements = elements * w
        return float(elements.sum() * self._scale(x.size))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        x, t, w, p = self._checked(output, target)
        positive = t if p is None else t * p
        s = sigmoid(x)
        grad = ((1 - t) * s - positive * (1 - s)) * self._scale(x.size)
        return grad if w is None else grad * w


class MultiLabelSoftMarginLoss(Loss):
    """One-versus-all logistic loss for multi-label classification.

    ``loss_i = -1/C * sum_c weight[c] * (t[i,c] * log(sigmoid(x[i,c])) + (1 - t[i,c]) * log(sigmoid(-x[i,c])))``;
    the mean averages over the samples.

    Args:
        weight: optional weight per class, length C.
        reduction: ``"mean"`` | ``"sum"``.

    Shape:
        - output: (N, C) or (C,) logits.
        - target: the output's shape, values in {0, 1}.

    Examples:
        >>> loss = MultiLabelSoftMarginLoss()
        >>> value = loss(np.array([[2.0, -1.0, 0.5]]), np.array([[1, 0, 1]]))
    """

    aliases = ("MultiLabelSoftMarginCriterion",)

    def __init__(self, weight: Sequence[float] | np.ndarray | None = None, reduction: str = "mean",
                 name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        self.weight = as_weight(weight)

    def get_config(self) -> dict[str, Any]:
        return {"weight": weight_config(self.weight), "reduction": self.reduction}

    def _checked(self, output: Any, target: Any) -> tuple[np.ndarray, np.ndarray, float]:
        x, t = self._pair(output, target)
        if x.ndim not in (1, 2):
            raise ValueError(f"{self.describe()}: output must be (N, C) or (C,), got shape {x.shape}")
        n_classes = x.shape[-1]
        if self.weight is not None and self.weight.shape != (n_classes,):
            raise ValueError(f"{self.describe()}: weight has shape {self.weight.shape} but the output "
                             f"has {n_classes} classes (shape {x.shape})")
        return x, t, self._scale(x.size // n_classes) / n_classes

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        x, t, scale = self._checked(output, target)
        elements = t * softplus(-x) + (1 - t) * softplus(x)
        if self.weight is not None:
            elements = elements * self.weight.astype(x.dtype)
        return float(elements.sum() * scale)

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        x, t, scale = self._checked(output, target)
        grad = (sigmoid(x) - t) * scale
        return grad if self.weight is None else grad * self.weight.astype(x.dtype)
