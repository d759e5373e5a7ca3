"""Normalisation layers: BatchNorm1d, BatchNorm2d and LayerNorm."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels.norm import batch_norm_backward, batch_norm_forward, layer_norm_backward, layer_norm_forward
from .. import init
from ..kernel_layer import _KernelLayer
from ..module import Parameter


#: inputs up to this many values take the batch norms' direct inference path
SMALL_INPUT = 1 << 16


class _BatchNorm(_KernelLayer):
    """Shared batch-norm logic; subclasses fix the accepted input ranks."""

    _ranks: tuple[int, ...] = ()
    _shape_doc = ""
    _kernels = (batch_norm_forward, batch_norm_backward)
    _kernel_params = ("weight", "bias", "running_mean", "running_var")

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = True,
                 track_running_stats: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        self.weight = Parameter(init.ones((self.num_features,))) if affine else None
        self.bias = Parameter(init.zeros((self.num_features,))) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", init.zeros((self.num_features,)))
            self.register_buffer("running_var", init.ones((self.num_features,)))
        else:
            self.running_mean = None
            self.running_var = None

    def _kernel_config(self) -> dict[str, Any]:
        return {"training": self.training or not self.track_running_stats, "eps": self.eps}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """Normalise ``x``; in training also move the running statistics towards the batch's."""
        if x.ndim not in self._ranks or x.shape[1] != self.num_features:
            raise ValueError(f"{self.describe()}: expected input {self._shape_doc} with C={self.num_features}, "
                             f"got shape {x.shape}")
        y, cache = super().forward_pass(x)
        if self.training and self.track_running_stats:
            count = cache["count"]
            unbiased = cache["var"] * (count / (count - 1))
            self.running_mean *= 1.0 - self.momentum
            self.running_mean += self.momentum * cache["mean"]
            self.running_var *= 1.0 - self.momentum
            self.running_var += self.momentum * unbiased
        return y, cache

    def infer(self, x: np.ndarray) -> np.ndarray:
        """In evaluation mode on a small input, ``x * s + t`` with the per-channel ``s, t`` the kernel
        uses, without its cache and worker threads (their set-up costs more than the two passes)."""
        if self.training or not self.track_running_stats or x.size > SMALL_INPUT or x.ndim not in self._ranks \
                or x.shape[1] != self.num_features:
            return self.forward_pass(x)[0]
        dt = x.dtype
        inv_std = (1.0 / np.sqrt(self.running_var.astype(dt) + self.eps)).astype(dt)
        scale = inv_std if self.weight is None else (self.weight.data * inv_std).astype(dt)
        mean = self.running_mean.astype(dt)
        shift = -mean * scale if self.bias is None else (self.bias.data - mean * scale).astype(dt)
        channels = (-1,) + (1,) * (x.ndim - 2)
        y = np.multiply(x, scale.reshape(channels))
        y += shift.reshape(channels)
        return y

    def get_config(self) -> dict[str, Any]:
        return {"num_features": self.num_features, "eps": self.eps, "momentum": self.momentum,
                "affine": self.affine, "track_running_stats": self.track_running_stats}


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` inputs, per channel ``C``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. In training the batch's
    statistics are used and the running ones are updated as
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased variance);
    in evaluation the running statistics are used.

    Args:
        num_features: number of channels ``C``.
        eps: added to the variance.
        momentum: weight of the new batch in the running statistics.
        affine: learn a per-channel ``weight`` (ones) and ``bias`` (zeros).
        track_running_stats: keep running statistics; if ``False`` batch statistics are used in both modes.
        name: optional layer name.

    Shape:
        - Input: ``(N, C)`` or ``(N, C, L)``.
        - Output: same as the input.

    Examples:
        >>> bn = BatchNorm1d(100)
        >>> bn(np.random.randn(20, 100).astype(np.float32)).shape
        (20, 100)
    """

    _ranks = (2, 3)
    _shape_doc = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` inputs, per channel ``C``.

    Same arguments and statistics as :class:`BatchNorm1d`, taken over ``N, H, W``.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: same as the input.

    Examples:
        >>> bn = BatchNorm2d(16)
        >>> bn(np.random.randn(4, 16, 8, 8).astype(np.float32)).shape
        (4, 16, 8, 8)
    """

    aliases = ("SpatialBatchNormalization",)
    _ranks = (4,)
    _shape_doc = "(N, C, H, W)"


class LayerNorm(_KernelLayer):
    """Normalise each sample over its last ``len(normalized_shape)`` axes.

    Args:
        normalized_shape: trailing shape of the input that forms one group (int or list).
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (ones) and ``bias`` (zeros) shaped ``normalized_shape``.
        name: optional layer name.

    Shape:
        - Input: ``(*, *normalized_shape)``.
        - Output: same as the input.

    Examples:
        >>> ln = LayerNorm(512)
        >>> ln(np.zeros((8, 10, 512), np.float32)).shape
        (8, 10, 512)
    """

    _kernels = (layer_norm_forward, layer_norm_backward)
    _kernel_params = ("weight", "bias")

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        shape = [normalized_shape] if isinstance(normalized_shape, (int, np.integer)) else normalized_shape
        self.normalized_shape = [int(s) for s in shape]
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Parameter(init.ones(self.normalized_shape)) if elementwise_affine else None
        self.bias = Parameter(init.zeros(self.normalized_shape)) if elementwise_affine else None

    def _kernel_config(self) -> dict[str, Any]:
        return {"normalized_ndim": len(self.normalized_shape), "eps": self.eps}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        n = len(self.normalized_shape)
        if x.ndim < n or list(x.shape[x.ndim - n:]) != self.normalized_shape:
            raise ValueError(f"{self.describe()}: expected input (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got shape {x.shape}")
        return super().forward_pass(x)

    def get_config(self) -> dict[str, Any]:
        return {"normalized_shape": list(self.normalized_shape), "eps": self.eps,
                "elementwise_affine": self.elementwise_affine}
