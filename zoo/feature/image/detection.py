"""Detection augmentations (SSD): random crop with IoU constraints and zoom-out expansion, boxes included."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import boxes as bx
from .geometric import _cropped
from .record import ImageRecord
from .transform import Transformer, check_hwc


class Expand(Transformer):
    """Zoom out: place the image at a random spot of a canvas up to ``max_ratio`` times larger.

    With probability ``p`` the canvas side ratio is drawn from ``U(1, max_ratio)``,
    the canvas filled with ``fill`` (per channel) and the boxes shifted along.

    Args:
        max_ratio: largest canvas / image side ratio.
        fill: canvas value, one per channel or one for all (e.g. the dataset mean).
        p: probability of expanding.
        seed: the random stream's seed.
    """

    random = True

    def __init__(self, max_ratio: float = 4.0, fill: float | Sequence[float] = 0.0, p: float = 0.5,
                 seed: int = 0) -> None:
        if max_ratio < 1 or not 0 <= p <= 1:
            raise ValueError(f"Expand needs max_ratio >= 1 and p in [0, 1], got {max_ratio}, {p}")
        self.max_ratio, self.p, self.seed = float(max_ratio), float(p), int(seed)
        self.fill = [float(v) for v in np.atleast_1d(fill)]

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        bx.check_boxes(record)
        if rng.random() >= self.p:
            return record
        h, w, c = record.image.shape
        ratio = rng.uniform(1.0, self.max_ratio)
        out_h, out_w = int(h * ratio), int(w * ratio)
        top, left = int(rng.integers(0, out_h - h + 1)), int(rng.integers(0, out_w - w + 1))
        if len(self.fill) not in (1, c):
            raise ValueError(f"{len(self.fill)} fill values for a {c}-channel image")
        canvas = np.empty((out_h, out_w, c), dtype=record.image.dtype)
        canvas[...] = np.asarray(self.fill).astype(record.image.dtype)
        canvas[top:top + h, left:left + w] = record.image
        boxes = None if record.boxes is None else bx.shift_boxes(record.boxes, left, top)
        return record.replace(image=canvas, boxes=boxes)

    def get_config(self) -> dict[str, Any]:
        return {"max_ratio": self.max_ratio, "fill": self.fill, "p": self.p, "seed": self.seed}


class SSDRandomCrop(Transformer):
    """The SSD paper's random crop: a patch whose IoU with some box reaches a drawn minimum.

    Per record one option is drawn uniformly from ``min_ious`` (None means "keep
    the whole image", 0 means "any patch"); then up to ``max_trials`` patches
    with sides in ``scale`` of the image's and aspect ratio ``w / h`` in
    ``ratio`` are tried until one has IoU >= the option with at least one box
    and contains some box centre. Boxes whose centre falls outside the patch
    are dropped, the others clipped. If no patch qualifies the record is unchanged.

    Args:
        min_ious: the options (None or a minimum IoU in [0, 1]).
        scale: range of the patch side relative to the image side.
        ratio: range of the patch's width / height.
        max_trials: patches tried per record.
        seed: the random stream's seed.
    """

    random = True

    def __init__(self, min_ious: Sequence[float | None] = (None, 0.1, 0.3, 0.5, 0.7, 0.9, 0.0),
                 scale: Sequence[float] = (0.3, 1.0), ratio: Sequence[float] = (0.5, 2.0), max_trials: int = 50,
                 seed: int = 0) -> None:
        self.min_ious = [None if v is None else float(v) for v in min_ious]
        if not self.min_ious:
            raise ValueError("SSDRandomCrop needs at least one option in min_ious")
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        if not 0 < self.scale[0] <= self.scale[1] <= 1 or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"SSDRandomCrop needs 0 < scale <= 1 and 0 < ratio ranges, got {scale}, {ratio}")
        self.max_trials, self.seed = int(max_trials), int(seed)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        bx.check_boxes(record)
        if record.boxes is None or len(record.boxes) == 0:
            raise ValueError("SSDRandomCrop needs a record with boxes")
        min_iou = self.min_ious[int(rng.integers(len(self.min_ious)))]
        if min_iou is None:
            return record
        h, w = record.image.shape[:2]
        boxes = record.boxes
        centers = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
        for _ in range(self.max_trials):
            cw, ch = rng.uniform(*self.scale) * w, rng.uniform(*self.scale) * h
            if not self.ratio[0] <= cw / ch <= self.ratio[1]:
                continue
            left, top = int(rng.uniform(0, w - cw)), int(rng.uniform(0, h - ch))
            cw_i, ch_i = max(1, int(cw)), max(1, int(ch))
            window = np.array([left, top, left + cw_i, top + ch_i], dtype=np.float32)
            if bx.iou(boxes, window).max() < min_iou:
                continue
            inside = ((centers[:, 0] >= window[0]) & (centers[:, 0] < window[2]) &
                      (centers[:, 1] >= window[1]) & (centers[:, 1] < window[3]))
            if not inside.any():
                continue
            return _cropped(record, top, left, ch_i, cw_i)
        return record

    def get_config(self) -> dict[str, Any]:
        return {"min_ious": self.min_ious, "scale": list(self.scale), "ratio": list(self.ratio),
                "max_trials": self.max_trials, "seed": self.seed}
