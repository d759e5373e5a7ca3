"""Multi-class losses on class indices: NLLLoss (log-probabilities) and CrossEntropyLoss (logits).

Both are written as ``loss = sum(G * log_probs)`` with a coefficient array
``G`` of the output's shape (minus the class weight, the smoothing mass and
the normalisation folded in), so the gradient with respect to the
log-probabilities is ``G`` itself; cross-entropy adds the log-softmax
Jacobian: ``dx = G - softmax(x) * sum_c G``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import Loss, as_weight, first_bad, weight_config


def log_softmax(x: np.ndarray, axis: int = 1) -> np.ndarray:
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class _ClassIndexLoss(Loss):
    """Shared part of NLLLoss and CrossEntropyLoss: class weights, ignore_index, index checks."""

    def __init__(self, weight: Sequence[float] | np.ndarray | None = None, ignore_index: int = -100,
                 reduction: str = "mean", name: str | None = None) -> None:
        super().__init__(reduction=reduction, name=name)
        self.weight = as_weight(weight)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"{type(self).__name__}: weight must be 1-D (one per class), "
                             f"got shape {self.weight.shape}")
        self.ignore_index = int(ignore_index)

    def get_config(self) -> dict[str, Any]:
        return {"weight": weight_config(self.weight), "ignore_index": self.ignore_index,
                "reduction": self.reduction}

    def _scores(self, output: Any) -> np.ndarray:
        output = self._floating(output)
        if output.ndim < 2:
            raise ValueError(f"{self.describe()}: output must be (N, C) or (N, C, d1, ...), "
                             f"got shape {output.shape}")
        n_classes = output.shape[1]
        if self.weight is not None and self.weight.shape != (n_classes,):
            raise ValueError(f"{self.describe()}: weight has shape {self.weight.shape} but the output "
                             f"has {n_classes} classes (shape {output.shape})")
        return output

    def _class_weights(self, output: np.ndarray) -> np.ndarray:
        n_classes = output.shape[1]
        if self.weight is None:
            return np.ones(n_classes, dtype=output.dtype)
        return self.weight.astype(output.dtype)

    def _indices(self, output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Validated class indices, flat (M,), with ignored entries set to 0, and the keep mask (M,)."""
        expected = output.shape[:1] + output.shape[2:]
        if target.shape != expected:
            raise ValueError(f"{self.describe()}: target shape {target.shape} does not match output "
                             f"shape {output.shape}; expected class indices of shape {expected}")
        if np.issubdtype(target.dtype, np.floating):
            fractional = target != np.round(target)
            if fractional.any():
                raise ValueError(f"{self.describe()}: target must hold class indices, got "
                                 f"target{first_bad(fractional)} = {target[fractional][0]}")
        elif not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"{self.describe()}: target must hold integer class indices, got {target.dtype}")
        index = target.astype(np.int64)
        keep = index != self.ignore_index
        n_classes = output.shape[1]
        bad = keep & ((index < 0) | (index >= n_classes))
        if bad.any():
            raise ValueError(f"{self.describe()}: target{first_bad(bad)} = {index[bad][0]} is not a class "
                             f"index in [0, {n_classes}) (ignore_index={self.ignore_index}), "
                             f"output shape {output.shape}")
        return np.where(keep, index, 0).reshape(-1), keep.reshape(-1)

    def _coefficients(self, output: np.ndarray, target: np.ndarray,
                      smoothing: float = 0.0) -> tuple[np.ndarray, bool]:
        """``G`` of the output's shape with ``loss = sum(G * log_probs)``; and whether the mean is 0/0.

        Per PyTorch: sample i contributes ``-(1-s) w[y_i] logp[i, y_i] - s/C sum_c w[c] logp[i, c]``
        and the mean divides by ``sum_i w[y_i]`` over the non-ignored samples.
        """
        index, keep = self._indices(output, target)
        n_classes = output.shape[1]
        w = self._class_weights(output)
        wi = w[index] * keep
        rows = np.moveaxis(output, 1, -1).shape
        coeff = np.zeros((index.size, n_classes), dtype=output.dtype)
        if smoothing:
            coeff -= (smoothing / n_classes) * (keep[:, None] * w[None, :])
        coeff[np.arange(index.size), index] -= (1.0 - smoothing) * wi
        empty = False
        if self.reduction == "mean":
            total = wi.sum()
            empty = total == 0
            if not empty:
                coeff /= total
        return np.ascontiguousarray(np.moveaxis(coeff.reshape(rows), -1, 1)), empty


class NLLLoss(_ClassIndexLoss):
    """Negative log-likelihood of class indices under log-probabilities (e.g. after LogSoftmax).

    ``loss_i = -weight[y_i] * output[i, y_i]``; the mean divides by the sum
    of ``weight[y_i]`` over the samples whose target is not ``ignore_index``
    (NaN when that sum is 0, as in PyTorch; the gradient is then zero).

    Args:
        weight: optional rescaling weight per class, length C.
        ignore_index: target value that contributes neither loss nor gradient.
        reduction: ``"mean"`` | ``"sum"``.

    Shape:
        - output: (N, C) or (N, C, d1, d2, ...) log-probabilities.
        - target: (N,) or (N, d1, d2, ...) class indices in [0, C).

    Examples:
        >>> loss = NLLLoss()
        >>> logp = LogSoftmax(dim=1)(np.random.randn(3, 5).astype(np.float32))
        >>> value = loss(logp, np.array([1, 0, 4]))
        >>> grad = loss.backward(logp, np.array([1, 0, 4]))
    """

    aliases = ("ClassNLLCriterion",)

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        output = self._scores(output)
        coeff, empty = self._coefficients(output, np.asarray(target))
        return float("nan") if empty else float(np.sum(coeff * output))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        output = self._scores(output)
        return self._coefficients(output, np.asarray(target))[0]


class CrossEntropyLoss(_ClassIndexLoss):
    """Cross-entropy between logits and class indices or class probabilities.

    With class indices this is ``NLLLoss(log_softmax(output))`` plus label
    smoothing: ``loss_i = (1-s) * nll_i + s/C * sum_c -weight[c] * logp[i, c]``
    and the mean divides by the summed ``weight[y_i]`` of the kept samples.
    With probabilities (a floating target of the output's shape)
    ``loss_i = -sum_c weight[c] * t[i, c] * logp[i, c]`` where ``t`` is
    smoothed to ``t * (1-s) + s/C``; the mean divides by the number of
    samples (N * d1 * ...), without the weights, as in PyTorch.

    Args:
        weight: optional rescaling weight per class, length C.
        label_smoothing: ``s`` in [0, 1].
        ignore_index: class-index target value that is skipped.
        reduction: ``"mean"`` | ``"sum"``.

    Shape:
        - output: (N, C) or (N, C, d1, d2, ...) unnormalised logits.
        - target: (N,) or (N, d1, ...) class indices, or probabilities of the output's shape.

    Examples:
        >>> loss = CrossEntropyLoss(label_smoothing=0.1)
        >>> logits = np.random.randn(4, 10).astype(np.float32)
        >>> value = loss(logits, np.array([3, 1, 0, 9]))
        >>> grad = loss.backward(logits, np.array([3, 1, 0, 9]))
    """

    aliases = ("CrossEntropyCriterion",)

    def __init__(self, weight: Sequence[float] | np.ndarray | None = None, label_smoothing: float = 0.0,
                 ignore_index: int = -100, reduction: str = "mean", name: str | None = None) -> None:
        super().__init__(weight=weight, ignore_index=ignore_index, reduction=reduction, name=name)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.label_smoothing = float(label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {"weight": weight_config(self.weight), "label_smoothing": self.label_smoothing,
                "ignore_index": self.ignore_index, "reduction": self.reduction}

    def _terms(self, output: Any, target: Any) -> tuple[np.ndarray, np.ndarray, bool]:
        """(G, log_softmax(output), mean is 0/0) with ``loss = sum(G * log_softmax(output))``."""
        output = self._scores(output)
        target = np.asarray(target)
        logp = log_softmax(output)
        if target.shape != output.shape:
            coeff, empty = self._coefficients(output, target, self.label_smoothing)
            return coeff, logp, empty
        if not np.issubdtype(target.dtype, np.floating):
            raise ValueError(f"{self.describe()}: a target of the output's shape {output.shape} holds class "
                             f"probabilities and must be floating point, got {target.dtype}")
        n_classes = output.shape[1]
        probs = target.astype(output.dtype)
        if self.label_smoothing:
            probs = probs * (1.0 - self.label_smoothing) + self.label_smoothing / n_classes
        w = self._class_weights(output).reshape((1, n_classes) + (1,) * (output.ndim - 2))
        coeff = -probs * w * self._scale(output.size // n_classes)
        return coeff, logp, False

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        coeff, logp, empty = self._terms(output, target)
        return float("nan") if empty else float(np.sum(coeff * logp))

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        coeff, logp, _ = self._terms(output, target)
        return coeff - np.exp(logp) * coeff.sum(axis=1, keepdims=True)
