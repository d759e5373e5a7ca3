"""Matching ground-truth boxes to SSD priors, and the padded target format.

Targets of a batch are one float array ``(N, M, 5)``: per image up to M rows
``(label, xmin, ymin, xmax, ymax)`` with labels ``1..C-1`` (0 is the background) and
normalised corner boxes; unused rows have label -1. A fixed shape lets the targets
go through the trainers like any label array.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from bigdl_runtime.kernels.detection import encode_boxes, iou


def pad_targets(boxes: Sequence[np.ndarray], labels: Sequence[np.ndarray], max_objects: int | None = None) -> np.ndarray:
    """Pack per-image boxes ``(m_i, 4)`` and labels ``(m_i,)`` into the ``(N, M, 5)`` target array.

    Examples:
        >>> pad_targets([np.array([[0.1, 0.1, 0.5, 0.5]])], [np.array([3])], 2)[0]
        array([[ 3. ,  0.1,  0.1,  0.5,  0.5],
               [-1. ,  0. ,  0. ,  0. ,  0. ]], dtype=float32)
    """
    most = max((len(b) for b in boxes), default=0)
    max_objects = most if max_objects is None else max_objects
    if most > max_objects:
        raise ValueError(f"pad_targets: an image has {most} objects, more than max_objects={max_objects}")
    out = np.zeros((len(boxes), max(max_objects, 1), 5), np.float32)
    out[:, :, 0] = -1
    for i, (b, lab) in enumerate(zip(boxes, labels)):
        b = np.asarray(b, np.float32).reshape(-1, 4)
        if len(b) != len(lab):
            raise ValueError(f"pad_targets: image {i} has {len(b)} boxes but {len(lab)} labels")
        out[i, :len(b), 0] = lab
        out[i, :len(b), 1:] = b
    return out


def unpad_targets(targets: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(boxes (m, 4), labels (m,))`` of each image of a padded target array."""
    out = []
    for rows in np.asarray(targets):
        rows = rows[rows[:, 0] >= 0]
        out.append((rows[:, 1:5].astype(np.float64), rows[:, 0].astype(np.int64)))
    return out


def match_priors(truths: np.ndarray, labels: np.ndarray, priors: np.ndarray,
                 threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Assign each prior a ground-truth box or the background, as in SSD.

    A prior is matched to the truth it overlaps most when that IoU is at least
    ``threshold``; in addition each truth claims the prior that overlaps it most
    (so every object has at least one positive prior; later truths win ties).

    Args:
        truths: ``(M, 4)`` corner boxes.
        labels: ``(M,)`` class labels (>= 1).
        priors: ``(P, 4)`` corner priors.
        threshold: IoU needed for a match.

    Returns:
        ``(prior_labels (P,), truth_index (P,))``: label 0 for background priors; the
        index of the matched truth (undefined where the label is 0).
    """
    num_priors = priors.shape[0]
    if truths.shape[0] == 0:
        return np.zeros(num_priors, np.int64), np.zeros(num_priors, np.int64)
    overlaps = iou(truths, priors)                      # (M, P)
    best_truth = overlaps.argmax(axis=0)                # per prior
    best_truth_iou = overlaps[best_truth, np.arange(num_priors)]
    best_prior = overlaps.argmax(axis=1)                # per truth
    best_truth_iou[best_prior] = 2.0                    # forced matches survive the threshold
    best_truth[best_prior] = np.arange(truths.shape[0])
    prior_labels = np.where(best_truth_iou >= threshold, labels[best_truth], 0).astype(np.int64)
    return prior_labels, best_truth


def encode_targets(targets: np.ndarray, priors: np.ndarray, variances: Sequence[float],
                   threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Per-prior class labels ``(N, P)`` and box regression targets ``(N, P, 4)`` of a batch.

    Background priors get label 0 and zero regression targets.
    """
    n, num_priors = targets.shape[0], priors.shape[0]
    labels = np.zeros((n, num_priors), np.int64)
    loc = np.zeros((n, num_priors, 4), np.float64)
    for i, (truths, truth_labels) in enumerate(unpad_targets(targets)):
        if np.any(truth_labels < 1):
            raise ValueError(f"multibox targets: image {i} has a label below 1 (0 is the background)")
        labels[i], index = match_priors(truths, truth_labels, priors, threshold)
        pos = labels[i] > 0
        if pos.any():
            loc[i, pos] = encode_boxes(truths[index[pos]], priors[pos], variances)
    return labels, loc
