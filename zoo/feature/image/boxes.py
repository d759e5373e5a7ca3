"""Box geometry for detection records: boxes follow the image through resize, crop, flip, expand, rotate.

Boxes are ``(N, 4)`` float32 ``x1, y1, x2, y2`` in continuous pixel
coordinates (the image spans ``[0, W] x [0, H]``).
"""
from __future__ import annotations

import numpy as np

from .record import ImageRecord


def check_boxes(record: ImageRecord) -> None:
    """Raise unless the record's boxes are ``(N, 4)`` with one label each."""
    boxes = record.boxes
    if boxes is None:
        return
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must be (N, 4) x1, y1, x2, y2, got shape {boxes.shape}")
    if record.box_labels is not None and len(record.box_labels) != len(boxes):
        raise ValueError(f"{len(boxes)} boxes but {len(record.box_labels)} box labels")


def scale_boxes(boxes: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Multiply x coordinates by ``sx`` and y coordinates by ``sy``."""
    return (boxes * np.array([sx, sy, sx, sy], dtype=np.float32)).astype(np.float32)


def shift_boxes(boxes: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Translate boxes by ``(dx, dy)``."""
    return (boxes + np.array([dx, dy, dx, dy], dtype=np.float32)).astype(np.float32)


def hflip_boxes(boxes: np.ndarray, width: int) -> np.ndarray:
    """Mirror boxes in an image of ``width``: ``x -> width - x``."""
    out = boxes.copy()
    out[:, 0] = width - boxes[:, 2]
    out[:, 2] = width - boxes[:, 0]
    return out


def crop_boxes(boxes: np.ndarray, labels: np.ndarray | None, x0: float, y0: float, x1: float,
               y1: float) -> tuple[np.ndarray, np.ndarray | None]:
    """Boxes inside the crop window ``[x0, x1) x [y0, y1)``, in the crop's coordinates.

    A box is kept when its centre lies in the window (the SSD rule), then
    clipped to the window.

    Returns:
        ``(boxes, labels)`` of the kept boxes.
    """
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    keep = (cx >= x0) & (cx < x1) & (cy >= y0) & (cy < y1)
    kept = boxes[keep].copy()
    kept[:, [0, 2]] = np.clip(kept[:, [0, 2]], x0, x1) - x0
    kept[:, [1, 3]] = np.clip(kept[:, [1, 3]], y0, y1) - y0
    return kept.astype(np.float32), (labels[keep] if labels is not None else None)


def iou(boxes: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Intersection over union of each box with one ``window`` ``(4,)``."""
    ix = np.clip(np.minimum(boxes[:, 2], window[2]) - np.maximum(boxes[:, 0], window[0]), 0, None)
    iy = np.clip(np.minimum(boxes[:, 3], window[3]) - np.maximum(boxes[:, 1], window[1]), 0, None)
    inter = ix * iy
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + (window[2] - window[0]) * (window[3] - window[1]) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def rotate_boxes(boxes: np.ndarray, angle: float, width: int, height: int) -> np.ndarray:
    """Axis-aligned hulls of boxes rotated counter-clockwise by ``angle`` degrees about the centre, clipped."""
    theta = np.deg2rad(angle)
    c, s = np.cos(theta), np.sin(theta)
    cx, cy = width / 2.0, height / 2.0
    xs = boxes[:, [0, 2, 2, 0]] - cx
    ys = boxes[:, [1, 1, 3, 3]] - cy
    rx = cx + c * xs + s * ys
    ry = cy - s * xs + c * ys
    out = np.stack([rx.min(1), ry.min(1), rx.max(1), ry.max(1)], axis=1)
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, width)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, height)
    return out.astype(np.float32)
