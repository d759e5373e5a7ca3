"""From SSD outputs to per-image detections, and drawing them on an image.

A detector graph (``ssd_mini(detector=True)``, ``ssd300(detector=True)``) already ends in
DetectionOutput; :func:`split_detections` cuts its ``(1, 1, K, 7)`` rows per image. For a
training graph's raw ``(N, P, 4 + C)`` predictions, :func:`detect` runs the same
post-processing (softmax, decoding, per-class NMS) in numpy.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from bigdl_runtime.kernels.detection import detection_output

from .heads import DETECTION_DEFAULTS
from .priors import VARIANCES


def split_detections(rows: np.ndarray, num_images: int) -> list[np.ndarray]:
    """DetectionOutput rows ``(1, 1, K, 7)`` -> per image ``(K_i, 6)`` rows ``(label, score, box)``.

    The placeholder rows of an empty result (label -1) are dropped.
    """
    rows = np.asarray(rows).reshape(-1, 7)
    rows = rows[rows[:, 1] >= 0]
    return [rows[rows[:, 0] == i, 1:] for i in range(num_images)]


def detect(predictions: np.ndarray, priors: np.ndarray, num_classes: int, **settings: Any) -> list[np.ndarray]:
    """Detections of raw SSD predictions ``(N, P, 4 + C)`` (offsets, then class logits).

    Args:
        priors: ``(P, 4)`` corner priors of the network.
        settings: DetectionOutput options overriding :data:`~zoo.models.ssd.heads.DETECTION_DEFAULTS`.

    Returns:
        per image, ``(K_i, 6)`` rows ``(label, score, xmin, ymin, xmax, ymax)`` in [0, 1] coordinates.
    """
    predictions = np.asarray(predictions)
    n = predictions.shape[0]
    logits = predictions[..., 4:].astype(np.float64)
    prob = np.exp(logits - logits.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    prior_blob = np.stack([np.asarray(priors, np.float64).reshape(-1),
                           np.tile(np.asarray(VARIANCES, np.float64), len(priors))])
    rows = detection_output(predictions[..., :4].reshape(n, -1).astype(np.float64), prob.reshape(n, -1),
                            prior_blob, num_classes, **{**DETECTION_DEFAULTS, **settings})
    return split_detections(rows, n)


def detect_images(pretrained: Any, paths: Sequence[Any], min_score: float = 0.3,
                  batch_size: int = 32) -> list[list[tuple[str, float, tuple[float, float, float, float]]]]:
    """Detect objects in image files with a catalog detector (``zoo.load_pretrained("ssd-mini-shapes")``).

    Args:
        pretrained: a :class:`zoo.catalog.PretrainedModel` whose network ends in DetectionOutput.
        paths: image files (converted and resized as the card's preprocessing says).
        min_score: the lowest score reported.

    Returns:
        per image, ``(label, score, (xmin, ymin, xmax, ymax))`` best first, the box as fractions
        of the image's width and height.

    Examples:
        >>> detect_images(zoo.load_pretrained("ssd-mini-shapes"), ["canvas.png"])
        [[('Sneaker', 0.98, (0.12, 0.40, 0.55, 0.61))]]
    """
    paths = list(paths)
    out = []
    for start in range(0, len(paths), batch_size):
        x = pretrained.preprocess_images(paths[start:start + batch_size])
        for rows in split_detections(pretrained.model.forward(x), len(x)):
            rows = rows[rows[:, 1] >= min_score]
            rows = rows[np.argsort(-rows[:, 1], kind="stable")]
            out.append([(pretrained.labels[int(r[0])], float(r[1]), tuple(float(v) for v in r[2:6])) for r in rows])
    return out


def draw_detections(image: Any, detections: np.ndarray, class_names: Sequence[str],
                    min_score: float = 0.5) -> Any:
    """A copy of the Pillow ``image`` with the boxes scoring at least ``min_score`` drawn and labelled.

    Args:
        image: a ``PIL.Image``.
        detections: ``(K, 6)`` rows ``(label, score, xmin, ymin, xmax, ymax)`` in [0, 1] coordinates.
        class_names: name of each label (index 0 = background).
    """
    from PIL import ImageDraw

    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    w, h = out.size
    colours = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45"]
    for label, score, *box in np.asarray(detections).reshape(-1, 6):
        if score < min_score:
            continue
        x0, y0, x1, y1 = (float(v) for v in np.clip(box, 0, 1) * [w, h, w, h])
        colour = colours[int(label) % len(colours)]
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=2)
        draw.text((x0 + 2, y0 + 1), f"{class_names[int(label)]} {score:.2f}", fill=colour)
    return out
