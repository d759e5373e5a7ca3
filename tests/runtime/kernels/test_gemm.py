"""Products without OpenBLAS threads: every split (rows, columns, batch) gives numpy's matmul."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import gemm
from bigdl_runtime.kernels.threads import SMALL_GEMM_MACS, _blas, block_threads

RNG = np.random.default_rng(0)

SHAPES = [  # (a, b): small ones on the calling thread, large ones split
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (3, 4, 2)),
    ((300, 300), (300, 300)),  # rows
    ((4, 2000), (2000, 2100)),  # columns
    ((2000,), (2000, 9000)),  # a vector: columns
    ((3, 200, 200), (3, 200, 200)), ((2, 1, 150, 200), (3, 200, 190)),  # batch entries, broadcast
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


def test_large_products_are_split_over_the_workers() -> None:
    """A product above the threshold runs on the block workers with BLAS at one thread."""
    if block_threads() < 2 or _blas.get is None:
        pytest.skip("one BLAS thread here: nothing to split")
    seen = []
    import bigdl_runtime.kernels.gemm as module

    real = module.run_blocks

    def spy(work, blocks):
        seen.append((len(blocks), _blas.get()))
        return real(work, blocks)

    module.run_blocks = spy
    try:
        big = RNG.standard_normal((600, 300)), RNG.standard_normal((300, 300))
        assert 600 * 300 * 300 >= SMALL_GEMM_MACS
        np.testing.assert_allclose(gemm.matmul(*big), big[0] @ big[1], rtol=1e-10, atol=1e-12)
    finally:
        module.run_blocks = real
    assert seen and seen[0][0] >= 2 and seen[0][1] == 1


def test_mismatched_batches_raise() -> None:
    with pytest.raises(ValueError):
        gemm.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))


def test_a_large_product_inside_a_block_worker_runs_inline() -> None:
    """Blocks that multiply large matrices do not wait for the pool they run on."""
    from bigdl_runtime.kernels.threads import in_block_worker, run_blocks

    a, b = RNG.standard_normal((600, 300)), RNG.standard_normal((300, 300))
    results, flags = {}, []

    def work(next_block) -> None:
        while (block := next_block()) is not None:
            flags.append(in_block_worker())
            results[block] = gemm.matmul(a, b)

    run_blocks(work, [(0, 1), (1, 2), (2, 3), (3, 4)])
    assert not in_block_worker()
    if block_threads() > 1:
        assert all(flags)
    for got in results.values():
        np.testing.assert_allclose(got, a @ b, rtol=1e-10, atol=1e-12)
