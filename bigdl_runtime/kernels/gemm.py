"""Matrix products with BLAS at one thread: large ones split into bands over the block workers.

OpenBLAS's own threads synchronise inside every GEMM; on a loaded machine a descheduled helper
stalls the whole product (measured with the load at 10 on the 2-core machine: a (20, 1024) x
(1024, 8210) float32 GEMM 52 ms on 2 OpenBLAS threads, 4.4 ms on one; a (1, 512) x (512, 2048)
one 9.7 ms against 0.06 ms). So products never run on OpenBLAS's threads: small ones
(:data:`~.threads.SMALL_GEMM_MACS`) run on the calling thread, large ones are cut into bands
of rows (or of columns, or batch entries) that the block workers of :mod:`.threads` multiply
with one-threaded BLAS each, as the convolutions already do (a product a block worker asks for
runs inline: the pool never waits on itself). Results may differ from one
whole product in the last bits (BLAS blocks the sums by shape), as between thread counts.
"""
from __future__ import annotations

import numpy as np

from .threads import SMALL_GEMM_MACS, block_threads, in_block_worker, run_blocks, single_threaded_blas


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` (numpy's broadcasting and 1-D rules) without OpenBLAS threads."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    k = a.shape[-1]
    rows = a.shape[-2] if a.ndim > 1 else 1
    cols = b.shape[-1] if b.ndim > 1 else 1
    batch = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))) if max(a.ndim, b.ndim) > 2 else 1
    workers = block_threads()
    if batch * rows * k * cols < SMALL_GEMM_MACS or workers <= 1 or in_block_worker():
        with single_threaded_blas():
            return np.matmul(a, b)
    if a.ndim > 2 and b.ndim == 2:  # a shared weight: one GEMM over the flattened batch
        return _gemm(a.reshape(-1, k), b, workers).reshape(*a.shape[:-1], cols)
    if a.ndim <= 2 and b.ndim <= 2:
        return _gemm(a, b, workers)
    return _batched(a, b, workers)


def _bands(n: int, parts: int) -> list[tuple[int, int]]:
    bounds = [n * i // parts for i in range(parts + 1)]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def _gemm(a: np.ndarray, b: np.ndarray, workers: int) -> np.ndarray:
    """A 2-D (or 1-D) product split into bands of rows of ``a``, or of columns of ``b`` when ``a`` is short."""
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    m, n = a2.shape[0], b2.shape[1]
    out = np.empty((m, n), np.result_type(a2.dtype, b2.dtype))
    by_rows = m >= 8 * workers or m >= n
    blocks = _bands(m if by_rows else n, workers * 2)

    def work(next_block) -> None:
        while (block := next_block()) is not None:
            lo, hi = block
            if by_rows:
                np.matmul(a2[lo:hi], b2, out=out[lo:hi])
            else:
                out[:, lo:hi] = np.matmul(a2, b2[:, lo:hi])

    with single_threaded_blas():
        run_blocks(work, blocks)
    shape = ((m,) if a.ndim > 1 else ()) + ((n,) if b.ndim > 1 else ())
    return out.reshape(shape)


def _batched(a: np.ndarray, b: np.ndarray, workers: int) -> np.ndarray:
    """A batched product split into bands of batch entries."""
    batch_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a3 = np.broadcast_to(a if a.ndim > 1 else a[None], (*batch_shape, *(a.shape[-2:] if a.ndim > 1 else (1, a.size))))
    b3 = np.broadcast_to(b if b.ndim > 1 else b[:, None], (*batch_shape, *(b.shape[-2:] if b.ndim > 1 else (b.size, 1))))
    a3 = a3.reshape(-1, *a3.shape[-2:])
    b3 = b3.reshape(-1, *b3.shape[-2:])
    out = np.empty((a3.shape[0], a3.shape[1], b3.shape[2]), np.result_type(a.dtype, b.dtype))

    def work(next_block) -> None:
        while (block := next_block()) is not None:
            lo, hi = block
            np.matmul(a3[lo:hi], b3[lo:hi], out=out[lo:hi])

    with single_threaded_blas():
        run_blocks(work, _bands(a3.shape[0], workers * 2))
    out = out.reshape(*batch_shape, out.shape[1], out.shape[2])
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out
