"""GridSample: sample an input at the normalised positions of a grid (ONNX GridSample, ``F.grid_sample``)."""
from __future__ import annotations

from typing import Any

from ...kernels import grid_sample as K
from .scatter import _MultiInputKernel


class GridSample(_MultiInputKernel):
    """Sample ``x`` (N, C, *spatial) at ``grid`` (N, *out, k) of coordinates in [-1, 1], x first.

    Args:
        mode: ``"nearest"``, ``"linear"`` (default; bilinear/trilinear) or ``"cubic"`` (bicubic).
        padding_mode: what positions outside the input read: ``"zeros"`` (default), ``"border"``
            or ``"reflection"``.
        align_corners: -1 and 1 are the centres of the corner pixels (else their outer edges).

    Shape:
        - Inputs: ``x`` (N, C, *spatial) and ``grid`` (N, *out, len(spatial)).
        - Output: (N, C, *out). ``backward`` returns ``(dx, dgrid)``.

    Examples:
        >>> x = np.arange(4.0).reshape(1, 1, 2, 2)
        >>> GridSample(align_corners=True)(x, np.zeros((1, 1, 1, 2)))  # the centre
        array([[[[1.5]]]])
    """

    _kernels = (K.grid_sample_forward, K.grid_sample_backward)
    _arity = 2

    def __init__(self, mode: str = "linear", padding_mode: str = "zeros", align_corners: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if mode not in ("nearest", "linear", "cubic"):
            raise ValueError(f"GridSample: mode must be nearest, linear or cubic, got {mode!r}")
        if padding_mode not in ("zeros", "border", "reflection"):
            raise ValueError(f"GridSample: padding_mode must be zeros, border or reflection, got {padding_mode!r}")
        self.mode, self.padding_mode, self.align_corners = mode, padding_mode, bool(align_corners)

    def get_config(self) -> dict[str, Any]:
        return {"mode": self.mode, "padding_mode": self.padding_mode, "align_corners": self.align_corners}
