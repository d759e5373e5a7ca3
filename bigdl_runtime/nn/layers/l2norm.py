"""Normalize: L2 normalisation with a learned scale (SSD's Normalize layer, BigDL's NormalizeScale)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import l2norm as K
from ..kernel_layer import _KernelLayer
from ..module import Parameter


class Normalize(_KernelLayer):
    """Divide by the L2 norm, per sample or per pixel, and multiply by a learned scale.

    ``across_spatial=True``: ``y = x / sqrt(sum_{c,h,w} x^2 + eps) * scale``;
    ``False``: ``y = x / sqrt(sum_c x^2 + eps) * scale`` (SSD's conv4_3 norm).

    Args:
        num_channels: channels ``C`` of the input.
        across_spatial: one norm per sample (True) or per spatial position (False). Default: True.
        channel_shared: one scale for all channels (True) or one per channel. Default: True.
        eps: added to the sum of squares. Default: 1e-10.
        init: initial value of the scale. Default: 1.
        name: optional layer name.

    Shape:
        - Input: ``(N, C, *)``. Output: the same.

    Examples:
        >>> norm = Normalize(512, across_spatial=False, channel_shared=False, init=20.0)
        >>> norm(np.ones((1, 512, 38, 38), np.float32)).shape
        (1, 512, 38, 38)
    """

    aliases = ("NormalizeScale",)
    _kernels = (K.l2_normalize_forward, K.l2_normalize_backward)
    _kernel_params = ("weight",)
    _kernel_keywords = {"across_spatial": "across_spatial", "eps": "eps"}

    def __init__(self, num_channels: int, across_spatial: bool = True, channel_shared: bool = True,
                 eps: float = 1e-10, init: float = 1.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.num_channels = int(num_channels)
        self.across_spatial, self.channel_shared = bool(across_spatial), bool(channel_shared)
        self.eps, self.init = float(eps), float(init)
        size = 1 if self.channel_shared else self.num_channels
        self.weight = Parameter(np.full(size, self.init, dtype=np.float32))

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        x = np.asarray(x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self.describe()}: expected input (N, {self.num_channels}, ...), got shape {x.shape}")
        return super().forward_pass(x)

    def get_config(self) -> dict[str, Any]:
        return {"num_channels": self.num_channels, "across_spatial": self.across_spatial,
                "channel_shared": self.channel_shared, "eps": self.eps, "init": self.init}
