"""Exact integer products on float kernels: every path (float32, float32 chunks, float64) gives the int64 result."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels.integer_gemm import FLOAT32_EXACT, exact_product
from bigdl_runtime.kernels.quantize import conv_integer

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("k,b_bound,calls", [(500, 128, [(np.float32, 0, 500)]),
                                             (1100, 128, [(np.float32, 0, 514), (np.float32, 514, 1028),
                                                          (np.float32, 1028, 1100)]),
                                             (6, 70000, [(np.float64, 0, 6)])],
                         ids=["float32", "chunks", "float64"])
def test_exact_product_matches_int64_at_the_extremes(k: int, b_bound: int, calls: list) -> None:
    a = RNG.integers(-255, 256, (6, k))
    a[0] = -255  # the largest magnitudes: sums beyond float32's exact integers
    a[1] = 255
    b = RNG.integers(-b_bound, b_bound + 1, (k, 5))
    b[:, 0] = -b_bound
    used = []

    def product(part: np.ndarray, lo: int, hi: int) -> np.ndarray:
        used.append((part.dtype, lo, hi))
        return part[:, lo:hi] @ b[lo:hi].astype(part.dtype)

    got = exact_product(a, 255, b_bound, k, 1, product)
    want = a @ b  # int64 reference
    np.testing.assert_array_equal(got, want)
    assert used == calls
    assert k == 500 or np.abs(want).max() >= FLOAT32_EXACT or b_bound > 128


@pytest.mark.parametrize("groups,channels", [(1, 90), (3, 90)])
def test_conv_integer_in_channel_chunks_matches_int64(groups: int, channels: int) -> None:
    """90 input channels x 3x3 x 255 x 127 needs chunks of input channels (per group)."""
    x = RNG.integers(0, 256, (1, channels, 6, 5)).astype(np.uint8)
    w = RNG.integers(-127, 128, (6, channels // groups, 3, 3)).astype(np.int8)
    x[:, :, 0] = 255
    w[:, :, 0, 0] = -127
    got = conv_integer(x, w, np.array(0, np.uint8), None, padding=(1, 1, 1, 1), groups=groups)
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    cg, og = channels // groups, 6 // groups
    want = np.zeros((1, 6, 6, 5), np.int64)
    for o in range(6):
        g = o // og
        for i in range(3):
            for j in range(3):
                want[0, o] += np.einsum("chw,c->hw", xp[0, g * cg:(g + 1) * cg, i:i + 6, j:j + 5],
                                        w[o, :, i, j].astype(np.int64))
    if groups == 1:
        assert cg * 9 * 255 * 127 >= FLOAT32_EXACT
    np.testing.assert_array_equal(got, want)
