"""Pooling layers: max, average, global and adaptive average (NCHW)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import pool as K
from ..kernel_layer import _KernelLayer

IntPair = int | Sequence[int]


def _plain(value: IntPair | None) -> int | list[int] | None:
    """Config form of a size argument: an int, None, or a list."""
    if value is None or isinstance(value, (int, np.integer)):
        return None if value is None else int(value)
    return [int(v) for v in value]


class _Pool(_KernelLayer):
    """Shared plumbing: rank check and errors naming the layer and the input shape; the config is the
    kernel's keyword arguments."""

    def _kernel_config(self) -> dict[str, Any]:
        return self.get_config()

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if x.ndim != 4:
            raise ValueError(f"{self.describe()}: expected input (N, C, H, W), got shape {x.shape}")
        try:
            return self._kernels[0](x, **self._kernel_config())
        except ValueError as err:
            raise ValueError(f"{self.describe()}: {err} (input shape {x.shape})") from None


class MaxPool2d(_Pool):
    """2-D max pooling over ``(N, C, H, W)``.

    Args:
        kernel_size: window size, int or ``(kh, kw)``.
        stride: window step, int or ``(sh, sw)``; defaults to ``kernel_size``.
        padding: implicit ``-inf`` padding: int, ``(ph, pw)`` or ``(top, left, bottom, right)``.
        dilation: spacing between window taps, int or ``(dh, dw)``.
        ceil_mode: round the output size up (a last window must start inside the input or its top/left padding).
        name: optional layer name.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H_out, W_out)`` with
          ``H_out = floor_or_ceil((H + top + bottom - dh * (kh - 1) - 1) / sh) + 1``.

    Examples:
        >>> pool = MaxPool2d(2)
        >>> pool(np.zeros((1, 6, 28, 28), np.float32)).shape
        (1, 6, 14, 14)
    """

    aliases = ("SpatialMaxPooling",)
    _kernels = (K.max_pool2d_forward, K.max_pool2d_backward)

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                 dilation: IntPair = 1, ceil_mode: bool = False, name: str | None = None) -> None:
        super().__init__(name=name)
        self.kernel_size = _plain(kernel_size)
        self.stride = _plain(stride)
        self.padding = _plain(padding)
        self.dilation = _plain(dilation)
        self.ceil_mode = bool(ceil_mode)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "ceil_mode": self.ceil_mode}


class AvgPool2d(_Pool):
    """2-D average pooling over ``(N, C, H, W)``.

    Args:
        kernel_size: window size, int or ``(kh, kw)``.
        stride: window step, int or ``(sh, sw)``; defaults to ``kernel_size``.
        padding: implicit zero padding: int, ``(ph, pw)`` or ``(top, left, bottom, right)``.
        ceil_mode: round the output size up (PyTorch/ONNX rule).
        count_include_pad: count padded zeros in the divisor (PyTorch's default).
        name: optional layer name.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H_out, W_out)`` as for :class:`MaxPool2d` with dilation 1.

    Examples:
        >>> pool = AvgPool2d(3, stride=2, padding=1)
        >>> pool(np.zeros((1, 8, 7, 7), np.float32)).shape
        (1, 8, 4, 4)
    """

    aliases = ("SpatialAveragePooling",)
    _kernels = (K.avg_pool2d_forward, K.avg_pool2d_backward)

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        self.kernel_size = _plain(kernel_size)
        self.stride = _plain(stride)
        self.padding = _plain(padding)
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad}


class GlobalAvgPool2d(_Pool):
    """Mean over the whole spatial extent, kept as ``1 x 1``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, 1, 1)``.

    Examples:
        >>> GlobalAvgPool2d()(np.ones((2, 512, 7, 7), np.float32)).shape
        (2, 512, 1, 1)
    """

    _kernels = (K.global_avg_pool2d_forward, K.global_avg_pool2d_backward)


class GlobalMaxPool2d(_Pool):
    """Max over the whole spatial extent, kept as ``1 x 1``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, 1, 1)``.

    Examples:
        >>> GlobalMaxPool2d()(np.ones((2, 64, 5, 5), np.float32)).shape
        (2, 64, 1, 1)
    """

    _kernels = (K.global_max_pool2d_forward, K.global_max_pool2d_backward)


class AdaptiveAvgPool2d(_Pool):
    """Average pooling to a fixed output size, with PyTorch's bins
    ``[floor(i * H / H_out), ceil((i + 1) * H / H_out))``.

    Args:
        output_size: ``H_out`` (= ``W_out``) or ``(H_out, W_out)``.
        name: optional layer name.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H_out, W_out)``.

    Examples:
        >>> AdaptiveAvgPool2d((6, 6))(np.ones((1, 256, 13, 13), np.float32)).shape
        (1, 256, 6, 6)
    """

    _kernels = (K.adaptive_avg_pool2d_forward, K.adaptive_avg_pool2d_backward)

    def __init__(self, output_size: IntPair, name: str | None = None) -> None:
        super().__init__(name=name)
        self.output_size = _plain(output_size)

    def get_config(self) -> dict[str, Any]:
        return {"output_size": self.output_size}
