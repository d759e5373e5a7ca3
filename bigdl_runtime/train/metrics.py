"""Validation metrics (BigDL's ``ValidationMethod``), mergeable across partitions.

A metric accumulates a small *state* batch by batch; ``result()`` turns it into a
number. States merge: a distributed validation computes one state per
partition (``m.state()``) and folds them into one metric with ``m.merge(s)``,
which gives exactly the value a single pass over all the data would give.

Counting metrics keep sums (``(correct, count)``, ``(loss_sum, count)``).
:class:`AUC` is exact: its state keeps every score and label (two arrays,
merged by concatenation) and the area is computed by sorting, with ties
counted as one half (the Mann-Whitney U statistic) - memory grows with the
validation set, which is fine for validation-sized data.

Examples:
    >>> m = get_metric("top1")
    >>> m.update(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
    >>> m.result()
    0.5
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np


class Metric:
    """Base class: subclasses define ``name``, ``_empty()``, ``_batch_state()`` and ``result()``."""

    name: str = "metric"

    def __init__(self) -> None:
        self._state = self._empty()

    def _empty(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[Any, ...]:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError

    def update(self, output: np.ndarray, target: np.ndarray) -> None:
        """Add one batch (model output and target)."""
        self.merge(self._batch_state(np.asarray(output), np.asarray(target)))

    def state(self) -> tuple[Any, ...]:
        """The accumulated state (numbers; arrays for :class:`AUC`)."""
        return self._state

    def merge(self, state: tuple[Any, ...]) -> None:
        """Fold in another metric's ``state()`` (default: element-wise sum)."""
        self._state = tuple(a + b for a, b in zip(self._state, state))

    def reset(self) -> None:
        self._state = self._empty()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, result={self._safe_result()})"

    def _safe_result(self) -> float | None:
        try:
            return self.result()
        except ValueError:
            return None


def _ratio(num: float, den: float, what: str) -> float:
    if den == 0:
        raise ValueError(f"{what}: no samples seen; call update() first")
    return float(num / den)


def _class_scores(output: np.ndarray, target: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    if output.ndim != 2:
        raise ValueError(f"{what}: output must be (N, classes), got shape {output.shape}")
    target = target.reshape(-1)
    if target.shape[0] != output.shape[0]:
        raise ValueError(f"{what}: {output.shape[0]} outputs but {target.shape[0]} targets")
    return output, target.astype(np.int64)


class TopKAccuracy(Metric):
    """Fraction of samples whose target class is among the ``k`` largest outputs.

    Args:
        k: how many top classes count as a hit (``k=1`` is top-1 accuracy).

    Shape:
        - output: ``(N, C)`` scores (logits or probabilities)
        - target: ``(N,)`` class indices
    """

    def __init__(self, k: int = 5) -> None:
        if k < 1:
            raise ValueError(f"TopKAccuracy needs k >= 1, got {k}")
        self.k = k
        self.name = f"top{k}"
        super().__init__()

    def _empty(self) -> tuple[int, int]:
        return (0, 0)

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[int, int]:
        output, target = _class_scores(output, target, self.name)
        k = min(self.k, output.shape[1])
        if k == 1:
            hits = output.argmax(axis=1) == target
        else:
            top = np.argpartition(output, -k, axis=1)[:, -k:]
            hits = (top == target[:, None]).any(axis=1)
        return (int(hits.sum()), int(target.shape[0]))

    def result(self) -> float:
        return _ratio(*self._state, self.name)


class Top1Accuracy(TopKAccuracy):
    """Fraction of samples whose largest output is the target class (BigDL's ``Top1Accuracy``)."""

    def __init__(self) -> None:
        super().__init__(k=1)


class Loss(Metric):
    """Average of a loss over all samples (each batch weighted by its size).

    Args:
        loss_fn: a loss module with ``forward(output, target) -> float`` that
            averages over the batch (the default reduction of our losses).
    """

    name = "loss"

    def __init__(self, loss_fn: Any) -> None:
        self.loss_fn = loss_fn
        super().__init__()

    def _empty(self) -> tuple[float, int]:
        return (0.0, 0)

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        n = int(output.shape[0])
        return (float(self.loss_fn.forward(output, target)) * n, n)

    def result(self) -> float:
        return _ratio(*self._state, self.name)


class MAE(Metric):
    """Mean absolute error over every element of output and target (same shape)."""

    name = "mae"

    def _empty(self) -> tuple[float, int]:
        return (0.0, 0)

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[float, int]:
        if output.size != target.size:
            raise ValueError(f"mae: output shape {output.shape} does not match target shape {target.shape}")
        diff = np.abs(output.reshape(-1).astype(np.float64) - target.reshape(-1))
        return (float(diff.sum()), int(diff.size))

    def result(self) -> float:
        return _ratio(*self._state, self.name)


def _binary_scores(output: np.ndarray, target: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """One score per sample from (N,), (N, 1) or two-class (N, 2) outputs, and 0/1 labels."""
    if output.ndim == 2 and output.shape[1] == 2:
        scores = output[:, 1]
    elif output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        scores = output.reshape(-1)
    else:
        raise ValueError(f"{what}: output must be (N,), (N, 1) or (N, 2), got shape {output.shape}")
    labels = target.reshape(-1)
    if labels.shape[0] != scores.shape[0]:
        raise ValueError(f"{what}: {scores.shape[0]} outputs but {labels.shape[0]} targets")
    return scores, labels


class BinaryAccuracy(Metric):
    """Accuracy of a binary classifier's thresholded output.

    Args:
        threshold: probability above which the prediction is class 1.
        from_logits: the output is a logit (compared with ``logit(threshold)``)
            instead of a probability.

    Shape:
        - output: ``(N,)`` or ``(N, 1)`` (one score per sample)
        - target: ``(N,)`` or ``(N, 1)``, values 0 or 1
    """

    name = "binary_accuracy"

    def __init__(self, threshold: float = 0.5, from_logits: bool = False) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"binary_accuracy: threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold
        self.from_logits = from_logits
        super().__init__()

    def _empty(self) -> tuple[int, int]:
        return (0, 0)

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[int, int]:
        if output.ndim == 2 and output.shape[1] == 2:
            raise ValueError("binary_accuracy: expects one score per sample; use top1 for (N, 2) outputs")
        scores, labels = _binary_scores(output, target, self.name)
        cut = np.log(self.threshold / (1.0 - self.threshold)) if self.from_logits else self.threshold
        predicted = scores > cut
        return (int((predicted == (labels > 0.5)).sum()), int(labels.shape[0]))

    def result(self) -> float:
        return _ratio(*self._state, self.name)


class AUC(Metric):
    """Exact area under the ROC curve of a binary classifier.

    The state keeps all scores and labels (merged by concatenation); the area
    is the probability that a random positive scores above a random negative,
    ties counting one half, computed from average ranks after one sort.

    Shape:
        - output: ``(N,)``, ``(N, 1)`` (score of class 1, logit or probability)
          or ``(N, 2)`` (two-class output, column 1 used)
        - target: ``(N,)``, values 0 or 1
    """

    name = "auc"

    def _empty(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.zeros(0, np.float64), np.zeros(0, np.float64))

    def _batch_state(self, output: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if output.ndim == 2 and output.shape[1] == 2:
            output = output[:, 1] - output[:, 0]  # monotonic in p(class 1), for logits and probabilities
        scores, labels = _binary_scores(output, target, self.name)
        return (scores.astype(np.float64), (labels > 0.5).astype(np.float64))

    def merge(self, state: tuple[np.ndarray, np.ndarray]) -> None:
        self._state = tuple(np.concatenate([a, np.asarray(b, np.float64)]) for a, b in zip(self._state, state))

    def result(self) -> float:
        scores, labels = self._state
        n_pos = int(labels.sum())
        n_neg = int(labels.size) - n_pos
        if n_pos == 0 or n_neg == 0:
            raise ValueError(f"auc: needs both classes, got {n_pos} positives and {n_neg} negatives")
        order = np.argsort(scores, kind="stable")
        sorted_scores = scores[order]
        # average 1-based rank of each group of tied scores
        starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
        ends = np.r_[starts[1:], scores.size]
        group_rank = (starts + 1 + ends) / 2.0
        ranks = np.repeat(group_rank, ends - starts)
        pos_rank_sum = float(ranks[labels[order] > 0.5].sum())
        return (pos_rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def get_metric(name: str | Metric, loss: Any = None) -> Metric:
    """A fresh metric by name: ``top1``, ``top5`` (any ``topK``), ``loss``, ``mae``,
    ``binary_accuracy``, ``auc``; a :class:`Metric` instance is reset and returned.

    Args:
        loss: the loss module, required for ``"loss"``.
    """
    if isinstance(name, Metric):
        name.reset()
        return name
    key = name.lower()
    if match := re.fullmatch(r"top(\d+)", key):
        return Top1Accuracy() if match.group(1) == "1" else TopKAccuracy(int(match.group(1)))
    if key == "loss":
        if loss is None:
            raise ValueError("metric 'loss' needs the loss module: get_metric('loss', loss=...)")
        return Loss(loss)
    simple = {"mae": MAE, "binary_accuracy": BinaryAccuracy, "auc": AUC}
    if key not in simple:
        raise ValueError(f"unknown metric '{name}'; known: top1, top5 (topK), loss, mae, binary_accuracy, auc")
    return simple[key]()
