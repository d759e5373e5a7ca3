"""A generated detection set: Fashion-MNIST items pasted on grey canvases, with their boxes.

Each canvas (96x96 by default) has a smooth random background with noise and one to
``max_objects`` items, each cut to its tight bounding box, scaled to a random size
(longest side ``min_side``..``max_side`` pixels, aspect kept), given a random brightness
and pasted where it overlaps earlier items by at most ``max_overlap`` of its area. The box
of an object is the tight box of its pasted pixels, normalised to [0, 1].

The training split takes items from Fashion-MNIST's training images, the held-out split
from its test images, so held-out objects are items the model never saw. Everything is
a function of the seed.

Examples:
    >>> data = make_shapes(8, split="test", seed=1)
    >>> data.images.shape, data.images.dtype, len(data.boxes)
    ((8, 96, 96), dtype('uint8'), 8)
    >>> data.class_names[data.labels[0][0]]    # labels are 1-based, 0 is the background
    'Trouser'
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import numpy as np

from .fashion_mnist import CLASS_NAMES, DEFAULT_ROOT, load_fashion_mnist

#: the Fashion-MNIST classes used (visually distinct ones), in label order 1..7
SHAPES_CLASSES = (0, 1, 3, 4, 7, 8, 9)  # T-shirt/top, Trouser, Dress, Coat, Sneaker, Bag, Ankle boot


@dataclass
class ShapesData:
    """A generated set: ``images`` ``(N, H, W)`` uint8, per image ``boxes`` ``(m, 4)`` float32
    normalised corners and ``labels`` ``(m,)`` in ``1..len(class_names) - 1``."""

    images: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    class_names: tuple[str, ...]


@functools.lru_cache(maxsize=2)
def _items(split: str, root: str) -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST items of the used classes (read once per split and root)."""
    items, labels = load_fashion_mnist(split, root)
    keep = np.isin(labels, SHAPES_CLASSES)
    return items[keep], labels[keep]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random field (bilinear upsampling of a coarse grid) plus pixel noise, values ~0..110."""
    coarse = rng.uniform(0, 90, (4, 4))
    t = np.linspace(0, 3, size)
    i0 = np.minimum(t.astype(int), 2)
    f = t - i0
    rows = coarse[i0] * (1 - f)[:, None] + coarse[i0 + 1] * f[:, None]
    field = rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]
    return field + rng.normal(0, rng.uniform(2, 12), (size, size))


def _crop(item: np.ndarray) -> np.ndarray:
    """The item cut to the tight box of its visible pixels (> 20)."""
    ys, xs = np.nonzero(item > 20)
    return item[ys.min():ys.max() + 1, xs.min():xs.max() + 1]


def _overlap_ok(box: tuple[int, int, int, int], placed: list[tuple[int, int, int, int]], limit: float) -> bool:
    x0, y0, x1, y1 = box
    area = (x1 - x0) * (y1 - y0)
    for a0, b0, a1, b1 in placed:
        inter = max(0, min(x1, a1) - max(x0, a0)) * max(0, min(y1, b1) - max(y0, b0))
        if inter > limit * min(area, (a1 - a0) * (b1 - b0)):
            return False
    return True


def make_shapes(n: int, split: str = "train", seed: int = 0, size: int = 96, max_objects: int = 4,
                min_side: int = 20, max_side: int = 80, max_overlap: float = 0.15,
                root: str | os.PathLike = DEFAULT_ROOT) -> ShapesData:
    """Generate ``n`` canvases.

    Args:
        split: ``"train"`` (items from Fashion-MNIST's training set) or ``"test"`` (its test set).
        seed: everything (items, sizes, positions, backgrounds) follows from it.
        size: canvas side in pixels.
        max_objects: objects per canvas are uniform in ``1..max_objects``.
        min_side, max_side: range of an object's longest side in pixels.
        max_overlap: an object may cover at most this fraction of a smaller earlier one.

    Returns:
        :class:`ShapesData`.
    """
    from PIL import Image

    if not 0 < min_side <= max_side <= size:
        raise ValueError(f"make_shapes: need 0 < min_side <= max_side <= size, got {min_side}, {max_side}, {size}")
    items, item_labels = _items(split, os.fspath(root))
    to_label = {c: i + 1 for i, c in enumerate(SHAPES_CLASSES)}
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    images = np.empty((n, size, size), np.uint8)
    all_boxes, all_labels = [], []
    for k in range(n):
        canvas = _background(rng, size)
        placed: list[tuple[int, int, int, int]] = []
        labels = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            pick = int(rng.integers(len(items)))
            item = _crop(items[pick])
            side = rng.uniform(min_side, max_side)
            scale = side / max(item.shape)
            h, w = max(4, round(item.shape[0] * scale)), max(4, round(item.shape[1] * scale))
            for _attempt in range(20):
                x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
                if _overlap_ok((x0, y0, x0 + w, y0 + h), placed, max_overlap):
                    break
            else:
                continue
            pixels = np.asarray(Image.fromarray(item).resize((w, h), Image.Resampling.BILINEAR), np.float64)
            alpha = np.clip(pixels / 60.0, 0, 1)
            brightness = rng.uniform(0.75, 1.1)
            region = canvas[y0:y0 + h, x0:x0 + w]
            canvas[y0:y0 + h, x0:x0 + w] = region * (1 - alpha) + pixels * brightness * alpha
            placed.append((x0, y0, x0 + w, y0 + h))
            labels.append(to_label[int(item_labels[pick])])
        images[k] = np.clip(canvas, 0, 255).astype(np.uint8)
        all_boxes.append(np.asarray(placed, np.float32).reshape(-1, 4) / size)
        all_labels.append(np.asarray(labels, np.int64))
    names = ("background", *(CLASS_NAMES[c] for c in SHAPES_CLASSES))
    return ShapesData(images, all_boxes, all_labels, names)
