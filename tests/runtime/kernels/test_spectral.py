"""DFT kernel: finite-difference gradients (float64), forwards vs numpy's FFTs."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import spectral as K
from tests.helpers.gradcheck import check_kernel


@pytest.mark.parametrize("length", [None, 3, 7])
@pytest.mark.parametrize("inverse,onesided", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("parts", [1, 2])
def test_backward_matches_finite_differences(parts: int, inverse: bool, onesided: bool, length) -> None:
    x = np.random.default_rng(0).standard_normal((2, 5, 3, parts))
    check_kernel(K.dft_forward, K.dft_backward, [x],
                 {"axis": 1, "length": length, "inverse": inverse, "onesided": onesided})


def _complex(x: np.ndarray) -> np.ndarray:
    return x[..., 0] + 1j * x[..., 1] if x.shape[-1] == 2 else x[..., 0]


@pytest.mark.parametrize("length", [None, 4, 9])
def test_forward_matches_numpy_fft(length) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6, 2))
    for inverse, onesided, want in [(False, False, np.fft.fft(_complex(x), n=length, axis=1)),
                                    (True, False, np.fft.ifft(_complex(x), n=length, axis=1))]:
        y, _ = K.dft_forward(x, 1, length, inverse, onesided)
        np.testing.assert_allclose(_complex(y), want, atol=1e-12)
    real = x[..., :1]
    y, _ = K.dft_forward(real, 1, length, onesided=True)
    np.testing.assert_allclose(_complex(y), np.fft.rfft(real[..., 0], n=length, axis=1), atol=1e-12)
    y, _ = K.dft_forward(x, 1, length, inverse=True, onesided=True)
    np.testing.assert_allclose(y[..., 0], np.fft.irfft(_complex(x), n=length, axis=1), atol=1e-12)
