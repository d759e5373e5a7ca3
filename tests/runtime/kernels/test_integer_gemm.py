"""Exact integer products on float kernels: every path (float32, split float32, float64) gives the int64 result."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels.integer_gemm import FLOAT32_EXACT, exact_product

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("k,dtype", [(500, np.float32), (3000, np.float64), (9000, np.float64)],
                         ids=["float32", "split", "float64"])
def test_exact_product_matches_int64_at_the_extremes(k: int, dtype) -> None:
    a = RNG.integers(-255, 256, (6, k))
    a[0] = -255  # the largest magnitudes: sums far beyond float32's exact integers when split or in float64
    a[1] = 255
    b = RNG.integers(-128, 129, (k, 5))
    b[:, 0] = -128
    used = []

    def product(part: np.ndarray) -> np.ndarray:
        used.append(part.dtype)
        return part @ b.astype(part.dtype)

    got = exact_product(a, 255, 128, k, product)
    np.testing.assert_array_equal(got, a @ b)  # int64 reference
    assert got.dtype == dtype
    assert used == {500: [np.float32], 3000: [np.float32, np.float32], 9000: [np.float64]}[k]
    assert np.abs(a @ b).max() >= FLOAT32_EXACT or k == 500  # the split case needs more than float32 holds


def test_exact_product_is_linear_in_the_split_operand() -> None:
    """The split halves recombine exactly for negative values too (floor division and modulo)."""
    a = np.arange(-300, 301).reshape(1, -1)
    got = exact_product(a, 300, 1 << 10, a.shape[1], lambda part: part * 1.0)
    np.testing.assert_array_equal(got, a)
