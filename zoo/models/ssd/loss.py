"""The multibox loss of SSD (Liu et al. 2016, eq. 1-3), with hard negative mining.

``L = (L_conf + alpha * L_loc) / N_pos`` over the batch: smooth L1 between predicted and
encoded offsets of the positive (matched) priors, softmax cross-entropy of the positives
and of the hardest negatives (the background priors with the largest background loss,
``neg_pos_ratio`` of them per positive in each image). The matching and the choice of
hard negatives are constants of the loss surface, so the gradient is exact wherever the
choice does not change (checked by finite differences).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bigdl_runtime.nn.losses.base import Loss

from .matching import encode_targets
from .priors import VARIANCES


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def hard_negatives(background_loss: np.ndarray, positives: np.ndarray, ratio: float) -> np.ndarray:
    """Mask of the ``ratio * num_positives`` background priors of each image with the largest loss.

    Args:
        background_loss: ``(N, P)`` ``-log p(background)``.
        positives: ``(N, P)`` bool mask of matched priors.
        ratio: negatives per positive.

    Returns:
        ``(N, P)`` bool mask (never overlapping ``positives``).
    """
    ranked = np.where(positives, -np.inf, background_loss)
    order = np.argsort(-ranked, axis=1, kind="stable")
    count = np.minimum((ratio * positives.sum(axis=1)).astype(np.int64), (~positives).sum(axis=1))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(order.shape[1])[None, :].repeat(order.shape[0], 0), axis=1)
    return rank < count[:, None]


class MultiBoxLoss(Loss):
    """SSD's loss on ``(N, P, 4 + C)`` predictions (box offsets, then class logits).

    Args:
        priors: ``(P, 4)`` normalised corner priors in the network's order
            (:func:`zoo.models.ssd.priors.make_priors`).
        num_classes: C, background (label 0) included.
        overlap_threshold: IoU for a prior to match a truth. Default: 0.5.
        neg_pos_ratio: hard negatives per positive. Default: 3.
        alpha: weight of the localisation term. Default: 1.
        variances: the box-coding variances. Default: (0.1, 0.1, 0.2, 0.2).

    Target: ``(N, M, 5)`` rows ``(label, xmin, ymin, xmax, ymax)``, label -1 for padding
    (:func:`zoo.models.ssd.matching.pad_targets`).

    Examples:
        >>> loss = MultiBoxLoss(make_priors(MINI_SOURCES, 96), num_classes=7)
        >>> value = loss.forward(model(x), targets)
        >>> model.backward(loss.backward(model(x), targets))
    """

    def __init__(self, priors: np.ndarray, num_classes: int, overlap_threshold: float = 0.5,
                 neg_pos_ratio: float = 3.0, alpha: float = 1.0, variances: Sequence[float] = VARIANCES,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.priors = np.asarray(priors, np.float64)
        if self.priors.ndim != 2 or self.priors.shape[1] != 4:
            raise ValueError(f"MultiBoxLoss: priors must be (P, 4) corner boxes, got {self.priors.shape}")
        self.num_classes = int(num_classes)
        self.overlap_threshold = float(overlap_threshold)
        self.neg_pos_ratio = float(neg_pos_ratio)
        self.alpha = float(alpha)
        self.variances = [float(v) for v in variances]

    def get_config(self) -> dict[str, Any]:
        return {"priors": self.priors, "num_classes": self.num_classes,
                "overlap_threshold": self.overlap_threshold, "neg_pos_ratio": self.neg_pos_ratio,
                "alpha": self.alpha, "variances": self.variances}

    def _parts(self, output: np.ndarray, target: np.ndarray) -> dict[str, Any]:
        output = self._floating(output)
        n, num_priors = output.shape[0], self.priors.shape[0]
        if output.shape != (n, num_priors, 4 + self.num_classes):
            raise ValueError(f"{self.describe()}: output must be (N, {num_priors}, {4 + self.num_classes}) "
                             f"(offsets + class logits), got {output.shape}")
        target = np.asarray(target)
        if target.ndim != 3 or target.shape[0] != n or target.shape[2] != 5:
            raise ValueError(f"{self.describe()}: target must be (N={n}, M, 5) rows (label, box), got {target.shape}")
        if np.any(target[..., 0] >= self.num_classes):
            raise ValueError(f"{self.describe()}: target labels must be below num_classes={self.num_classes}")
        labels, loc_target = encode_targets(target, self.priors, self.variances, self.overlap_threshold)
        logits = output[..., 4:].astype(np.float64)
        log_prob = _log_softmax(logits)
        positives = labels > 0
        negatives = hard_negatives(-log_prob[..., 0], positives, self.neg_pos_ratio)
        return {"labels": labels, "loc_target": loc_target, "log_prob": log_prob, "positives": positives,
                "selected": positives | negatives, "count": max(int(positives.sum()), 1),
                "diff": output[..., :4].astype(np.float64) - loc_target}

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        p = self._parts(output, target)
        ad = np.abs(p["diff"][p["positives"]])
        loc = np.where(ad < 1, 0.5 * ad ** 2, ad - 0.5).sum()
        picked = np.take_along_axis(p["log_prob"], p["labels"][..., None], axis=-1)[..., 0]
        conf = -picked[p["selected"]].sum()
        return float((conf + self.alpha * loc) / p["count"])

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        p = self._parts(output, target)
        grad = np.zeros(output.shape, np.float64)
        pos = p["positives"]
        grad[..., :4][pos] = self.alpha * np.clip(p["diff"][pos], -1.0, 1.0)
        prob = np.exp(p["log_prob"])
        np.put_along_axis(prob, p["labels"][..., None], np.take_along_axis(prob, p["labels"][..., None], -1) - 1, -1)
        grad[..., 4:] = np.where(p["selected"][..., None], prob, 0.0)
        return (grad / p["count"]).astype(output.dtype)
