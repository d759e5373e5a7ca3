"""Crop: cut the first input to the shape of a second, reference input (Caffe's Crop layer)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import crop as K
from ..kernel_layer import _KernelLayer


class Crop(_KernelLayer):
    """Keep the axes before ``axis`` whole and cut every later axis to the reference's size.

    Used by fully convolutional networks (FCN) to align an up-sampled score map with the
    input image. The reference input only lends its shape and receives a zero gradient.

    Args:
        axis: first cropped axis (batch included; negative counts from the end). Default: 2.
        offset: start of the crop: none (0), one value for every cropped axis, or one per cropped axis.
        name: optional layer name.

    Shape:
        - Inputs: ``x`` and ``reference`` of the same rank, ``x`` at least as large on the cropped axes.
        - Output: ``x.shape[:axis] + reference.shape[axis:]``.

    Examples:
        >>> crop = Crop(axis=2, offset=[19])
        >>> crop(np.zeros((1, 21, 538, 538)), np.zeros((1, 3, 500, 500))).shape
        (1, 21, 500, 500)
    """

    _kernels = (K.crop_forward, K.crop_backward)
    _kernel_keywords = {"axis": "axis", "offset": "offset"}

    def __init__(self, axis: int = 2, offset: Sequence[int] = (), name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = int(axis)
        self.offset = [int(o) for o in offset]
        if any(o < 0 for o in self.offset):
            raise ValueError(f"Crop: offsets must be >= 0, got {self.offset}")

    def forward_pass(self, x: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, Any]:
        return super().forward_pass(np.asarray(x), np.asarray(reference))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "offset": self.offset}
