"""Instance normalisation layers: InstanceNorm (any spatial rank), InstanceNorm1d/2d/3d.

Statistics are those of each sample's channel plane, in training and evaluation
alike (torch's default ``track_running_stats=False``; running statistics are not
supported).
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...kernels.instance_norm import instance_norm_backward, instance_norm_forward
from .. import init
from ..kernel_layer import _KernelLayer
from ..module import Parameter


class InstanceNorm(_KernelLayer):
    """Normalise every ``(sample, channel)`` plane over its spatial axes (ONNX InstanceNormalization).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and biased
    variance of each plane.

    Args:
        num_features: number of channels ``C``.
        eps: added to the variance. Default: 1e-5.
        affine: learn a per-channel ``weight`` (ones) and ``bias`` (zeros). Default:
            False, as torch (ONNX models always carry them: the importer passes True).

    Shape:
        - Input: ``(N, C, *spatial)`` with at least one spatial axis.
        - Output: same as the input.

    Examples:
        >>> InstanceNorm(3, affine=True)(np.random.randn(2, 3, 8, 8)).shape
        (2, 3, 8, 8)
    """

    #: accepted input ranks (empty: any rank >= 3)
    _ranks: ClassVar[tuple[int, ...]] = ()
    _kernels = (instance_norm_forward, instance_norm_backward)
    _kernel_params = ("weight", "bias")
    _kernel_keywords = {"eps": "eps"}

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False, name: str | None = None) -> None:
        super().__init__(name=name)
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.affine = bool(affine)
        self.weight = Parameter(init.ones((self.num_features,))) if affine else None
        self.bias = Parameter(init.zeros((self.num_features,))) if affine else None

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "affine": self.affine}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        rank_ok = x.ndim in self._ranks if self._ranks else x.ndim >= 3
        if not rank_ok or x.shape[1] != self.num_features:
            ranks = "/".join(f"{r}-D" for r in self._ranks) or "at least 3-D"
            raise ValueError(f"{self.describe()}: expected a {ranks} input (N, C={self.num_features}, *spatial), "
                             f"got shape {x.shape}")
        return super().forward_pass(x)


class InstanceNorm1d(InstanceNorm):
    """:class:`InstanceNorm` of ``(N, C, L)`` inputs (``torch.nn.InstanceNorm1d``)."""

    _ranks = (3,)


class InstanceNorm2d(InstanceNorm):
    """:class:`InstanceNorm` of ``(N, C, H, W)`` inputs (``torch.nn.InstanceNorm2d``)."""

    _ranks = (4,)


class InstanceNorm3d(InstanceNorm):
    """:class:`InstanceNorm` of ``(N, C, D, H, W)`` inputs (``torch.nn.InstanceNorm3d``)."""

    _ranks = (5,)
