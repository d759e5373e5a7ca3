"""ImageRecord: one image with its path, label and optional detection boxes; per-record RNG."""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class ImageRecord:
    """One image flowing through readers and transformers.

    Args:
        image: the pixels, ``(H, W, C)`` (uint8 after decoding, float after scaling;
            ``(C, H, W)`` only after :class:`~zoo.feature.image.ToTensor`).
        path: where the image came from (local path or Hadoop URI), or None.
        label: the class index, or None when unlabelled.
        label_name: the class name the index stands for, or None.
        index: position in the source, the random-stream key when there is no path.
        boxes: detection boxes ``(N, 4)`` float32 ``x1, y1, x2, y2`` in pixels
            (continuous coordinates: the image spans ``[0, W] x [0, H]``), or None.
        box_labels: class of each box ``(N,)`` int64, or None.

    Examples:
        >>> rec = ImageRecord(np.zeros((4, 6, 3), np.uint8), path="/data/cat/1.jpg", label=0)
        >>> rec.key()
        '/data/cat/1.jpg'
    """

    image: np.ndarray
    path: str | None = None
    label: int | None = None
    label_name: str | None = None
    index: int | None = None
    boxes: np.ndarray | None = None
    box_labels: np.ndarray | None = None

    def key(self) -> str:
        """The identity random streams are derived from: the path, else the index."""
        if self.path is not None:
            return self.path
        return f"#{self.index if self.index is not None else 0}"

    def replace(self, **changes: object) -> "ImageRecord":
        """A copy with ``changes`` applied (the arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def where(self) -> str:
        """How errors name this record: its path or its index."""
        return self.path if self.path is not None else f"record {self.index}"


def record_rng(seed: int, key: str, epoch: int = 0, position: int = 0) -> np.random.Generator:
    """The random generator of one transformer applied to one record.

    The stream depends only on ``(seed, key, epoch, position)``, never on the
    order records are processed in or on which Spark task holds them, so a
    chain gives identical output locally and on Spark.

    Args:
        seed: the transformer's seed.
        key: the record's :meth:`ImageRecord.key`.
        epoch: lets a training loop draw new augmentations each epoch.
        position: the transformer's position in its chain (independent streams per step).

    Returns:
        a fresh ``numpy.random.Generator``.
    """
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=16).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *words, int(epoch), int(position)]))
