"""Cumulative sum and product along an axis: CumSum (``torch.cumsum``, ONNX CumSum) and CumProd (ONNX CumProd)."""
from __future__ import annotations

from typing import Any

from ...kernels import cumulative as K
from .activation import _Activation


class _Cumulative(_Activation):
    """Base: the scanned axis and ONNX's ``exclusive`` and ``reverse`` flags.

    Args:
        axis: the scanned axis (may be negative). Default: 0.
        exclusive: leave each element out of its own output (the first is the identity).
        reverse: scan from the end of the axis.
    """

    def __init__(self, axis: int = 0, exclusive: bool = False, reverse: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis, self.exclusive, self.reverse = int(axis), bool(exclusive), bool(reverse)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "exclusive": self.exclusive, "reverse": self.reverse}


class CumSum(_Cumulative):
    """Running sum along ``axis``.

    Examples:
        >>> CumSum()(np.array([1.0, 2.0, 3.0]))
        array([1., 3., 6.])
        >>> CumSum(exclusive=True, reverse=True)(np.array([1.0, 2.0, 3.0]))
        array([5., 3., 0.])
    """

    _kernels = (K.cumsum_forward, K.cumsum_backward)


class CumProd(_Cumulative):
    """Running product along ``axis`` (the gradient is exact at zeros).

    Examples:
        >>> CumProd()(np.array([1.0, 2.0, 3.0]))
        array([1., 2., 6.])
    """

    _kernels = (K.cumprod_forward, K.cumprod_backward)
