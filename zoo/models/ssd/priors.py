"""Where an SSD puts its prior (default) boxes: one :class:`SourceSpec` per feature map.

A network's prior layout is a list of sources (feature maps) with Caffe PriorBox
parameters. :func:`make_priors` turns it into the ``(P, 4)`` normalised corner boxes
the multibox loss matches against and DetectionOutput decodes with, in exactly the
order the heads emit their predictions (source, then row, column, prior).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from bigdl_runtime.kernels.detection import prior_box_sizes, prior_boxes

#: SSD's box-coding variances (Liu et al. 2016; Caffe's ``variance`` 0.1, 0.1, 0.2, 0.2).
VARIANCES = (0.1, 0.1, 0.2, 0.2)


@dataclass(frozen=True)
class SourceSpec:
    """The priors of one feature map.

    Attributes:
        size: the feature map's side (square maps).
        min_size: prior size in pixels; max_size adds a ``sqrt(min * max)`` square (0: none).
        aspect_ratios: extra ratios, each also flipped.
        step: pixel distance between neighbouring prior centres.
    """

    size: int
    min_size: float
    max_size: float
    aspect_ratios: tuple[float, ...] = field(default=(2.0,))
    step: float = 0.0

    @property
    def priors_per_cell(self) -> int:
        return len(prior_box_sizes([self.min_size], [self.max_size] if self.max_size else [], self.aspect_ratios))

    def prior_box_config(self, image_size: int) -> dict[str, Any]:
        """Keyword arguments of the :class:`~bigdl_runtime.nn.PriorBox` layer for this source."""
        return {"min_sizes": [self.min_size], "max_sizes": [self.max_size] if self.max_size else [],
                "aspect_ratios": list(self.aspect_ratios), "flip": True, "clip": False,
                "variances": list(VARIANCES), "step": self.step or None, "offset": 0.5,
                "img_size": image_size}


#: SSD300 (Liu et al. 2016, Caffe ``ssd_pascal.py``): 38, 19, 10, 5, 3, 1 -> 8732 priors.
SSD300_SOURCES = (
    SourceSpec(38, 30, 60, (2.0,), 8), SourceSpec(19, 60, 111, (2.0, 3.0), 16),
    SourceSpec(10, 111, 162, (2.0, 3.0), 32), SourceSpec(5, 162, 213, (2.0, 3.0), 64),
    SourceSpec(3, 213, 264, (2.0,), 100), SourceSpec(1, 264, 315, (2.0,), 300),
)


def make_priors(sources: Sequence[SourceSpec], image_size: int) -> np.ndarray:
    """``(P, 4)`` float32 normalised corner priors of all sources, in head order.

    Examples:
        >>> make_priors(SSD300_SOURCES, 300).shape
        (8732, 4)
    """
    parts = []
    for s in sources:
        cfg = s.prior_box_config(image_size)
        step = cfg["step"] or 0.0
        boxes = prior_boxes((s.size, s.size), (image_size, image_size), cfg["min_sizes"], cfg["max_sizes"],
                            cfg["aspect_ratios"], flip=True, clip=False, step_hw=(step, step),
                            variances=VARIANCES)
        parts.append(boxes[0].reshape(-1, 4))
    return np.concatenate(parts, axis=0)


def sources_to_config(sources: Sequence[SourceSpec]) -> list[dict[str, Any]]:
    """Plain dicts (for model metadata and cards)."""
    return [{**asdict(s), "aspect_ratios": list(s.aspect_ratios)} for s in sources]
