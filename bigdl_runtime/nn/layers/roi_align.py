"""RoiAlign (ONNX RoiAlign, ``torchvision.ops.roi_align``); see :mod:`bigdl_runtime.kernels.roi_align`."""
from __future__ import annotations

from typing import Any

from ...kernels import roi_align as K
from .scatter import _MultiInputKernel


class RoiAlign(_MultiInputKernel):
    """Pool each region of interest of a feature map into an ``output_height x output_width`` grid.

    Args:
        output_height, output_width: the pooled size. Default: 1.
        sampling_ratio: samples per bin and axis (0: ``ceil(region / output)``).
        spatial_scale: from region coordinates to feature-map pixels. Default: 1.
        mode: ``"avg"`` (default) or ``"max"``.
        half_pixel: shift the regions by -0.5 pixel (ONNX's ``half_pixel``, torchvision's
            ``aligned=True``; ``False`` is ``output_half_pixel``).

    Shape:
        - Inputs: ``x`` (N, C, H, W), ``rois`` (R, 4) as (x1, y1, x2, y2), int ``batch_indices`` (R,).
        - Output: (R, C, output_height, output_width). ``backward`` returns ``(dx, None, None)``.
    """

    _kernels = (K.roi_align_forward, K.roi_align_backward)
    _arity = 3

    def __init__(self, output_height: int = 1, output_width: int = 1, sampling_ratio: int = 0,
                 spatial_scale: float = 1.0, mode: str = "avg", half_pixel: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if mode not in ("avg", "max"):
            raise ValueError(f"RoiAlign: mode must be avg or max, got {mode!r}")
        self.output_height, self.output_width = int(output_height), int(output_width)
        self.sampling_ratio, self.spatial_scale = int(sampling_ratio), float(spatial_scale)
        self.mode, self.half_pixel = mode, bool(half_pixel)

    def get_config(self) -> dict[str, Any]:
        return {"output_height": self.output_height, "output_width": self.output_width,
                "sampling_ratio": self.sampling_ratio, "spatial_scale": self.spatial_scale, "mode": self.mode,
                "half_pixel": self.half_pixel}
