"""Geometric transformers: resize, aspect scale, crops, flip, rotation (box-aware)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from . import boxes as bx
from .record import ImageRecord
from .resample import check_interpolation, resize, rotation_inverse, warp_affine
from .transform import Transformer, check_hwc, pair


def _resized(record: ImageRecord, height: int, width: int, interpolation: str) -> ImageRecord:
    check_hwc(record.image)
    bx.check_boxes(record)
    h, w = record.image.shape[:2]
    boxes = record.boxes
    if boxes is not None:
        boxes = bx.scale_boxes(boxes, width / w, height / h)
    return record.replace(image=resize(record.image, height, width, interpolation), boxes=boxes)


def _cropped(record: ImageRecord, top: int, left: int, height: int, width: int) -> ImageRecord:
    image = record.image
    h, w = image.shape[:2]
    if top < 0 or left < 0 or top + height > h or left + width > w:
        raise ValueError(f"crop {height}x{width} at ({top}, {left}) does not fit a {h}x{w} image")
    bx.check_boxes(record)
    boxes, labels = record.boxes, record.box_labels
    if boxes is not None:
        boxes, labels = bx.crop_boxes(boxes, labels, left, top, left + width, top + height)
    return record.replace(image=np.ascontiguousarray(image[top:top + height, left:left + width]),
                          boxes=boxes, box_labels=labels)


class Resize(Transformer):
    """Resize to a fixed ``(height, width)`` (boxes are scaled along).

    Args:
        height, width: output size.
        interpolation: ``"bilinear"`` (OpenCV ``INTER_LINEAR``), ``"nearest"`` or
            ``"antialias"`` (Pillow's filter: better when shrinking photos a lot).

    Examples:
        >>> Resize(224, 224)(np.zeros((480, 640, 3), np.uint8)).shape
        (224, 224, 3)
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear") -> None:
        self.height, self.width = pair((height, width), "Resize size")
        self.interpolation = check_interpolation(interpolation)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        return _resized(record, self.height, self.width, self.interpolation)

    def decode_size(self, height: int, width: int) -> tuple[int, int] | None:
        return self.height, self.width

    def get_config(self) -> dict[str, Any]:
        return {"height": self.height, "width": self.width, "interpolation": self.interpolation}


class AspectScale(Transformer):
    """Scale keeping the aspect ratio: the short side becomes ``min_size``, the long side at most ``max_size``.

    Args:
        min_size: target length of the shorter side.
        max_size: cap on the longer side (None: no cap).
        interpolation: as in :class:`Resize`.

    Examples:
        >>> AspectScale(256)(np.zeros((480, 640, 3), np.uint8)).shape
        (256, 341, 3)
    """

    def __init__(self, min_size: int, max_size: int | None = None, interpolation: str = "bilinear") -> None:
        if min_size < 1 or (max_size is not None and max_size < min_size):
            raise ValueError(f"AspectScale needs 1 <= min_size <= max_size, got {min_size}, {max_size}")
        self.min_size, self.max_size = int(min_size), None if max_size is None else int(max_size)
        self.interpolation = check_interpolation(interpolation)

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """The ``(height, width)`` an input of that size is scaled to."""
        scale = self.min_size / min(height, width)
        if self.max_size is not None and round(max(height, width) * scale) > self.max_size:
            scale = self.max_size / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))

    def decode_size(self, height: int, width: int) -> tuple[int, int] | None:
        return self.output_size(height, width)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        return _resized(record, *self.output_size(*record.image.shape[:2]), self.interpolation)

    def get_config(self) -> dict[str, Any]:
        return {"min_size": self.min_size, "max_size": self.max_size, "interpolation": self.interpolation}


class CenterCrop(Transformer):
    """Cut the central ``(height, width)`` window (top-left offset rounds down).

    Examples:
        >>> CenterCrop(224, 224)(np.zeros((256, 341, 3), np.uint8)).shape
        (224, 224, 3)
    """

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = pair((height, width), "CenterCrop size")

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        h, w = record.image.shape[:2]
        return _cropped(record, (h - self.height) // 2, (w - self.width) // 2, self.height, self.width)

    def get_config(self) -> dict[str, Any]:
        return {"height": self.height, "width": self.width}


class RandomCrop(Transformer):
    """Cut a ``(height, width)`` window at a uniformly random position, after optional zero padding.

    Args:
        height, width: the window.
        padding: pixels of zeros added on every side first.
        seed: the random stream's seed.
    """

    random = True

    def __init__(self, height: int, width: int, padding: int = 0, seed: int = 0) -> None:
        self.height, self.width = pair((height, width), "RandomCrop size")
        if padding < 0:
            raise ValueError(f"RandomCrop padding must be >= 0, got {padding}")
        self.padding, self.seed = int(padding), int(seed)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        p = self.padding
        if p:
            image = np.pad(record.image, ((p, p), (p, p), (0, 0)))
            boxes = None if record.boxes is None else bx.shift_boxes(record.boxes, p, p)
            record = record.replace(image=image, boxes=boxes)
        h, w = record.image.shape[:2]
        if h < self.height or w < self.width:
            raise ValueError(f"crop {self.height}x{self.width} is larger than the {h}x{w} image")
        top = int(rng.integers(0, h - self.height + 1))
        left = int(rng.integers(0, w - self.width + 1))
        return _cropped(record, top, left, self.height, self.width)

    def get_config(self) -> dict[str, Any]:
        return {"height": self.height, "width": self.width, "padding": self.padding, "seed": self.seed}


class RandomResizedCrop(Transformer):
    """Crop a random area and aspect ratio, then resize to ``(height, width)`` (Inception-style).

    Up to 10 draws of ``area ~ U(scale) * H * W`` and ``log ratio ~ U(log ratio)``;
    if none fits, the central crop with the ratio clamped to ``ratio``.

    Args:
        height, width: output size.
        scale: range of the crop's fraction of the image area.
        ratio: range of the crop's width / height.
        interpolation: as in :class:`Resize`.
        seed: the random stream's seed.
    """

    random = True

    def __init__(self, height: int, width: int, scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3 / 4, 4 / 3), interpolation: str = "bilinear", seed: int = 0) -> None:
        self.height, self.width = pair((height, width), "RandomResizedCrop size")
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        if not 0 < self.scale[0] <= self.scale[1] or not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"RandomResizedCrop needs 0 < low <= high for scale and ratio, "
                             f"got {self.scale}, {self.ratio}")
        self.interpolation = check_interpolation(interpolation)
        self.seed = int(seed)

    def window(self, height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
        """``(top, left, h, w)`` of the crop for an image of that size."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target = area * rng.uniform(*self.scale)
            aspect = math.exp(rng.uniform(*log_ratio))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        aspect = width / height
        if aspect < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif aspect > self.ratio[1]:
            h, w = height, round(height * self.ratio[1])
        else:
            h, w = height, width
        return (height - h) // 2, (width - w) // 2, h, w

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        top, left, h, w = self.window(*record.image.shape[:2], rng)
        return _resized(_cropped(record, top, left, h, w), self.height, self.width, self.interpolation)

    def get_config(self) -> dict[str, Any]:
        return {"height": self.height, "width": self.width, "scale": list(self.scale), "ratio": list(self.ratio),
                "interpolation": self.interpolation, "seed": self.seed}


class HFlip(Transformer):
    """Mirror left-right with probability ``p`` (boxes mirrored along).

    Args:
        p: flip probability (1.0 always flips, 0.0 never).
        seed: the random stream's seed.
    """

    random = True

    def __init__(self, p: float = 0.5, seed: int = 0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"HFlip p must be in [0, 1], got {p}")
        self.p, self.seed = float(p), int(seed)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        bx.check_boxes(record)
        if rng.random() >= self.p:
            return record
        width = record.image.shape[1]
        boxes = None if record.boxes is None else bx.hflip_boxes(record.boxes, width)
        return record.replace(image=np.ascontiguousarray(record.image[:, ::-1]), boxes=boxes)

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p, "seed": self.seed}


class Rotate(Transformer):
    """Rotate counter-clockwise about the centre, keeping the size (bilinear, corners filled with ``fill``).

    Args:
        angle: degrees, or a ``(low, high)`` range drawn uniformly per record.
        fill: value of the uncovered corners.
        seed: the random stream's seed (used only with a range).

    Boxes become the axis-aligned hull of their rotated corners, clipped to the image.

    Examples:
        >>> Rotate(90)(np.arange(4, dtype=np.uint8).reshape(2, 2, 1))[..., 0]
        array([[1, 3],
               [0, 2]], dtype=uint8)
    """

    def __init__(self, angle: float | Sequence[float], fill: float = 0.0, seed: int = 0) -> None:
        if isinstance(angle, (int, float)):
            self.angle: float | tuple[float, float] = float(angle)
        else:
            low, high = float(angle[0]), float(angle[1])
            if low > high:
                raise ValueError(f"Rotate angle range must have low <= high, got {angle}")
            self.angle = (low, high)
        self.random = isinstance(self.angle, tuple)
        self.fill, self.seed = float(fill), int(seed)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        check_hwc(record.image)
        bx.check_boxes(record)
        angle = float(rng.uniform(*self.angle)) if isinstance(self.angle, tuple) else self.angle
        h, w = record.image.shape[:2]
        image = warp_affine(record.image, rotation_inverse(angle, h, w), h, w, self.fill)
        boxes = None if record.boxes is None else bx.rotate_boxes(record.boxes, angle, w, h)
        return record.replace(image=image, boxes=boxes)

    def get_config(self) -> dict[str, Any]:
        angle = list(self.angle) if isinstance(self.angle, tuple) else self.angle
        return {"angle": angle, "fill": self.fill, "seed": self.seed}
