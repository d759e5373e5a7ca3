"""Upsample: nearest or bilinear resizing of NCHW feature maps (``torch.nn.Upsample``)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import resize as K
from ..kernel_layer import _KernelLayer, call_kernel


def _plain(v: float | int | Sequence[float] | None, cast: type) -> Any:
    return None if v is None else cast(v) if np.isscalar(v) else [cast(e) for e in v]


class Upsample(_KernelLayer):
    """Resize the H and W axes of an NCHW tensor.

    Args:
        scale_factor: output = floor(input * scale) per spatial axis; one float or ``[sh, sw]``.
        size: the output ``(H, W)``, or one int for both. Give exactly one of the two.
        mode: ``"nearest"`` or ``"bilinear"``. Default: "nearest".
        align_corners: bilinear only: map the corner pixels of input and output onto
            each other (True) or sample at pixel centres (False, ONNX ``half_pixel``). Default: False.

    Shape:
        - Input: ``(N, C, H, W)``.
        - Output: ``(N, C, H_out, W_out)``.

    Examples:
        >>> Upsample(scale_factor=2, mode="bilinear")(np.zeros((1, 3, 4, 5))).shape
        (1, 3, 8, 10)
    """

    aliases = ("UpSampling2D",)

    def __init__(self, scale_factor: float | Sequence[float] | None = None, size: int | Sequence[int] | None = None,
                 mode: str = "nearest", align_corners: bool = False, name: str | None = None) -> None:
        super().__init__(name=name)
        if (scale_factor is None) == (size is None):
            raise ValueError("Upsample: give exactly one of scale_factor and size")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Upsample: mode must be 'nearest' or 'bilinear', got {mode!r}")
        if align_corners and mode == "nearest":
            raise ValueError("Upsample: align_corners only applies to mode='bilinear'")
        self.scale_factor = _plain(scale_factor, float)
        self.size = _plain(size, int)
        self.mode = mode
        self.align_corners = bool(align_corners)

    def get_config(self) -> dict[str, Any]:
        return {"scale_factor": self.scale_factor, "size": self.size, "mode": self.mode,
                "align_corners": self.align_corners}

    @property
    def _kernels(self) -> tuple[Any, Any]:  # type: ignore[override]
        if self.mode == "nearest":
            return K.upsample_nearest_forward, K.upsample_nearest_backward
        return K.upsample_bilinear_forward, K.upsample_bilinear_backward

    def _kernel_config(self) -> dict[str, Any]:
        config = {"scale_factor": self.scale_factor, "size": self.size}
        return config if self.mode == "nearest" else {**config, "align_corners": self.align_corners}


class UpsampleTo(Upsample):
    """Upsample to an output size given per call as a second input (ONNX Resize with computed ``sizes``).

    Args:
        mode: ``"nearest"`` or ``"bilinear"``. Default: "nearest".
        align_corners: as :class:`Upsample`. Default: False.

    Shape:
        - Inputs: ``(N, C, H, W)`` and an integer vector, ``(H_out, W_out)`` or the whole
          ``(N, C, H_out, W_out)`` (N and C must then be the input's).
        - Output: ``(N, C, H_out, W_out)``; ``backward`` gives the size input a ``None`` gradient.

    Examples:
        >>> UpsampleTo()(np.zeros((1, 3, 4, 5)), np.array([1, 3, 8, 7])).shape
        (1, 3, 8, 7)
    """

    def __init__(self, mode: str = "nearest", align_corners: bool = False, name: str | None = None) -> None:
        super().__init__(size=1, mode=mode, align_corners=align_corners, name=name)
        self.size = None

    def get_config(self) -> dict[str, Any]:
        return {"mode": self.mode, "align_corners": self.align_corners}

    def forward_pass(self, x: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, Any]:
        size = np.asarray(size).reshape(-1)
        x = np.asarray(x)
        if size.size not in (2, x.ndim) or (size.size == x.ndim and tuple(size[:-2]) != x.shape[:-2]):
            raise ValueError(f"{self.describe()}: the size {size.tolist()} must be (H, W) or the input's "
                             f"{x.shape[:-2]} followed by (H, W)")
        config = dict(self._kernel_config(), size=[int(s) for s in size[-2:]])
        return call_kernel(self, self._kernels[0], x, **config)

    def backward_pass(self, grad_output: np.ndarray, ctx: Any) -> tuple[np.ndarray, None]:
        return super().backward_pass(grad_output, ctx), None
