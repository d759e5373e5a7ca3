"""Caffe-style elementwise affine layers: Scale (learned multiplier, optional bias), Bias, Power."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import affine as K
from .. import init
from ..kernel_layer import _KernelLayer
from ..module import Parameter


class _ChannelAffine(_KernelLayer):
    """Shared forward/backward of Scale and Bias: parameters laid along the input's axes from ``axis``."""

    _kernels = (K.channel_affine_forward, K.channel_affine_backward)
    _kernel_params = ("weight", "bias")
    _kernel_keywords = {"axis": "axis"}

    def __init__(self, shape: Sequence[int], axis: int, name: str | None) -> None:
        super().__init__(name=name)
        self.shape = [int(s) for s in shape]
        self.axis = int(axis)
        if any(s < 1 for s in self.shape):
            raise ValueError(f"{type(self).__name__}: shape must hold positive sizes, got {list(shape)}")


class Scale(_ChannelAffine):
    """``y = x * weight (+ bias)`` with a learned weight spanning ``len(shape)`` input axes from ``axis``.

    Caffe's Scale layer: with ``shape=[C]`` and ``axis=1`` it is a per-channel scale of
    ``(N, C, H, W)`` (what follows Caffe's BatchNorm); ``shape=[]`` is one scalar.

    Args:
        shape: the weight's shape, equal to ``input.shape[axis:axis + len(shape)]``.
        axis: first input axis the weight covers (batch included; negative counts from the end). Default: 1.
        bias: also learn an additive bias of the same shape.
        name: optional layer name.

    Shape:
        - Input: ``(N, *)`` with ``input.shape[axis:axis + len(shape)] == shape``.
        - Output: same shape as the input.

    Examples:
        >>> s = Scale([16], bias=True)  # weight ones, bias zeros
        >>> s(np.ones((2, 16, 8, 8), np.float32)).shape
        (2, 16, 8, 8)
    """

    aliases = ("CMul",)

    def __init__(self, shape: Sequence[int], axis: int = 1, bias: bool = False, name: str | None = None) -> None:
        super().__init__(shape, axis, name)
        self.weight = Parameter(init.ones(tuple(self.shape)))
        self.bias = Parameter(init.zeros(tuple(self.shape))) if bias else None

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape, "axis": self.axis, "bias": self.bias is not None}


class Bias(_ChannelAffine):
    """``y = x + bias`` with a learned bias spanning ``len(shape)`` input axes from ``axis`` (Caffe's Bias).

    Args:
        shape: the bias's shape, equal to ``input.shape[axis:axis + len(shape)]``.
        axis: first input axis the bias covers (batch included). Default: 1.
        name: optional layer name.

    Examples:
        >>> Bias([3])(np.zeros((2, 3, 4, 4), np.float32)).shape
        (2, 3, 4, 4)
    """

    aliases = ("CAdd",)

    def __init__(self, shape: Sequence[int], axis: int = 1, name: str | None = None) -> None:
        super().__init__(shape, axis, name)
        self.bias = Parameter(init.zeros(tuple(self.shape)))

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape, "axis": self.axis}


class Power(_KernelLayer):
    """``y = (shift + scale * x) ** power``, elementwise (Caffe's Power layer, BigDL's Power).

    Args:
        power: the exponent. Default: 1.
        scale: multiplier applied first. Default: 1.
        shift: added before the power. Default: 0.
        name: optional layer name.

    Shape:
        - Input: any shape. Output: the same.

    Examples:
        >>> Power(2.0, scale=0.5, shift=1.0)(np.array([[2.0]], np.float32))
        array([[4.]], dtype=float32)
    """

    _kernels = (K.power_forward, K.power_backward)
    _kernel_keywords = {"power": "power", "scale": "scale", "shift": "shift"}

    def __init__(self, power: float = 1.0, scale: float = 1.0, shift: float = 0.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.power, self.scale, self.shift = float(power), float(scale), float(shift)

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return super().forward_pass(np.asarray(x))

    def get_config(self) -> dict[str, Any]:
        return {"power": self.power, "scale": self.scale, "shift": self.shift}
