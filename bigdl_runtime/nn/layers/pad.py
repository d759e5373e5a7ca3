"""Padding layers: Pad (any rank, ONNX layout and modes) and ZeroPad2d (PyTorch layout)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import pad as K
from ..kernel_layer import _KernelLayer, call_kernel


class Pad(_KernelLayer):
    """Pad every axis, batch included, as ONNX Pad.

    Args:
        pads: ``[b_0, ..., b_{k-1}, e_0, ..., e_{k-1}]``, the begin then the end pads of
            each of the k input axes; negative values crop.
        mode: ``"constant"``, ``"reflect"`` (mirror, border not repeated) or ``"edge"``
            (repeat the border). Default: "constant".
        value: fill value of constant padding. Default: 0.0.

    Shape:
        - Input: ``(d_0, ..., d_{k-1})``.
        - Output: ``(d_0 + b_0 + e_0, ..., d_{k-1} + b_{k-1} + e_{k-1})``.

    Examples:
        >>> Pad([0, 0, 1, 1, 0, 0, 1, 1], mode="reflect")(np.zeros((2, 3, 4, 4))).shape
        (2, 3, 6, 6)
    """

    _kernels = (K.pad_forward, K.pad_backward)
    _kernel_keywords = {"pads": "pads", "mode": "mode", "value": "value"}

    def __init__(self, pads: Sequence[int], mode: str = "constant", value: float = 0.0,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if mode not in ("constant", "reflect", "edge"):
            raise ValueError(f"Pad: mode must be 'constant', 'reflect' or 'edge', got {mode!r}")
        self.pads = [int(p) for p in pads]
        self.mode = mode
        self.value = float(value)

    def get_config(self) -> dict[str, Any]:
        return {"pads": self.pads, "mode": self.mode, "value": self.value}


class ZeroPad2d(_KernelLayer):
    """Zero-pad the last two axes (H, W), as ``torch.nn.ZeroPad2d``.

    Args:
        padding: one int for all four sides, or ``[left, right, top, bottom]``;
            negative values crop.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, H + top + bottom, W + left + right)`` (or without N).

    Examples:
        >>> ZeroPad2d([1, 2, 0, 1])(np.zeros((1, 3, 4, 4))).shape
        (1, 3, 5, 7)
    """

    aliases = ("SpatialZeroPadding",)
    _kernels = (K.pad_forward, K.pad_backward)

    def __init__(self, padding: int | Sequence[int], name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(padding, (int, np.integer)):
            self.padding: int | list[int] = int(padding)
            sides = [self.padding] * 4
        else:
            self.padding = sides = [int(p) for p in padding]
            if len(sides) != 4:
                raise ValueError(f"ZeroPad2d: padding needs 4 values (left, right, top, bottom), got {sides}")
        self._sides = sides

    def get_config(self) -> dict[str, Any]:
        return {"padding": self.padding}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if x.ndim not in (3, 4):
            raise ValueError(f"{self.describe()}: expected (N, C, H, W) or (C, H, W), got {x.shape}")
        left, right, top, bottom = self._sides
        lead = [0] * (x.ndim - 2)
        return call_kernel(self, K.pad_forward, x, [*lead, top, left, *lead, bottom, right])
