"""Regression losses: MSELoss, L1Loss, SmoothL1Loss (output and target of the same shape)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Loss


class MSELoss(Loss):
    """Mean squared error ``(x - t)^2``, averaged (``"mean"``) or summed (``"sum"``) over all elements.

    Shape:
        - output: any shape.
        - target: the output's shape.

    Examples:
        >>> MSELoss()(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
        2.5
    """

    aliases = ("MSECriterion",)

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        x, t = self._pair(output, target)
        diff = x - t
        return float(np.vdot(diff, diff) * self._scale(x.size))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        x, t = self._pair(output, target)
        return (x - t) * (2 * self._scale(x.size))


class L1Loss(Loss):
    """Absolute error ``|x - t|`` (gradient ``sign(x - t)``, 0 where equal).

    Shape:
        - output: any shape.
        - target: the output's shape.

    Examples:
        >>> L1Loss(reduction="sum")(np.array([1.0, -2.0]), np.array([0.0, 0.0]))
        3.0
    """

    aliases = ("AbsCriterion",)

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        x, t = self._pair(output, target)
        return float(np.abs(x - t).sum() * self._scale(x.size))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        x, t = self._pair(output, target)
        return np.sign(x - t) * self._scale(x.size)


class SmoothL1Loss(Loss):
    """Huber-like loss: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (d = x - t).

    ``beta = 0`` is the L1 loss, as in PyTorch.

    Args:
        reduction: ``"mean"`` | ``"sum"``.
        beta: where the loss changes from quadratic to linear, >= 0.

    Shape:
        - output: any shape.
        - target: the output's shape.

    Examples:
        >>> SmoothL1Loss(beta=1.0)(np.array([0.5, 3.0]), np.array([0.0, 0.0]))
        1.3125
    """

    aliases = ("SmoothL1Criterion",)

    def __init__(self, reduction: str = "mean", beta: float = 1.0, name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction, "beta": self.beta}

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        x, t = self._pair(output, target)
        d = np.abs(x - t)
        if self.beta == 0:
            elements = d
        else:
            elements = np.where(d < self.beta, (0.5 / self.beta) * d * d, d - 0.5 * self.beta)
        return float(elements.sum() * self._scale(x.size))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        x, t = self._pair(output, target)
        d = x - t
        if self.beta == 0:
            grad = np.sign(d)
        else:
            grad = np.where(np.abs(d) < self.beta, d / self.beta, np.sign(d))
        return grad * self._scale(x.size)
