"""The discrete Fourier transform of real-stacked signals (ONNX DFT); see :mod:`bigdl_runtime.kernels.spectral`."""
from __future__ import annotations

from typing import Any

from ...kernels import spectral as K
from .activation import _Activation


class DFT(_Activation):
    """DFT along ``axis`` of a signal whose last axis holds 1 (real) or 2 (real, imaginary) parts.

    Args:
        axis: the transformed axis (not the last). Default: -2.
        length: transform length (zero-pads or truncates the signal); None: the axis' size
            (``2 * (size - 1)`` for a one-sided inverse).
        inverse: the inverse transform (divided by ``length``).
        onesided: keep the ``length // 2 + 1`` non-redundant frequencies; with ``inverse``,
            the real inverse of a one-sided spectrum (``np.fft.irfft``).

    Examples:
        >>> DFT(axis=0)(np.array([[1.0], [0.0], [0.0]]))[:, 0]  # an impulse has a flat spectrum
        array([1., 1., 1.])
    """

    _kernels = (K.dft_forward, K.dft_backward)

    def __init__(self, axis: int = -2, length: int | None = None, inverse: bool = False, onesided: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = int(axis)
        self.length = None if length is None else int(length)
        self.inverse, self.onesided = bool(inverse), bool(onesided)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "length": self.length, "inverse": self.inverse, "onesided": self.onesided}
