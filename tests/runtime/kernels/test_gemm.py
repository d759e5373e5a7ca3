"""gemm.matmul: numpy's matmul, with BLAS at one thread for small products and its own threads for large ones."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import gemm
from bigdl_runtime.kernels.gemm import SMALL_GEMM_MACS
from bigdl_runtime.kernels.threads import _blas, block_threads

RNG = np.random.default_rng(0)

SHAPES = [  # (a, b): small ones on one BLAS thread, large ones on BLAS's threads
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
    ((300, 300), (300, 300)), ((4, 2000), (2000, 2100)), ((2000,), (2000, 9000)),
    ((3, 200, 200), (3, 200, 200)), ((2, 1, 150, 200), (3, 200, 190)),
    ((6, 50, 300), (300, 300)),  # a shared weight over a flattened batch
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_shape,b_shape", SHAPES)
def test_matmul_matches_numpy(a_shape, b_shape, dtype) -> None:
    a = RNG.standard_normal(a_shape).astype(dtype)
    b = RNG.standard_normal(b_shape).astype(dtype)
    got = gemm.matmul(a, b)
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4)


def test_small_products_hold_blas_at_one_thread_and_large_ones_do_not(monkeypatch) -> None:
    if block_threads() < 2 or _blas.get is None:
        pytest.skip("one BLAS thread here: nothing to hold")
    seen = []
    real = np.dot  # what the 2-D case calls

    def spy(a, b, *args, **kwargs):
        seen.append(_blas.get())
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(gemm.np, "dot", spy)
    small = RNG.standard_normal((64, 64)), RNG.standard_normal((64, 64))
    large = RNG.standard_normal((600, 300)), RNG.standard_normal((300, 300))
    assert 64 ** 3 < SMALL_GEMM_MACS <= 600 * 300 * 300
    gemm.matmul(*small)
    gemm.matmul(*large)
    assert seen == [1, block_threads()]
    assert _blas.get() == block_threads()   # given back


def test_mismatched_batches_raise() -> None:
    with pytest.raises(ValueError):
        gemm.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
