"""The block workers: results in range order, BLAS's thread count restored, and a fork that catches blocks
running in another thread leaves the child with working workers and BLAS at its thread count."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from bigdl_runtime.kernels import threads
from tests.helpers.forking import run_forked


def _sums(n: int) -> list[float]:
    data = np.arange(n * 1000, dtype=np.float64).reshape(n, 1000)
    parts = threads.parallel_batches(lambda a, b: float(data[a:b].sum()), n, threads.PARALLEL_MIN_ELEMENTS)
    return [float(sum(parts)), float(data.sum())]


def test_parallel_batches_cover_the_batch_in_order():
    seen = threads.parallel_batches(lambda a, b: (a, b), 10, threads.PARALLEL_MIN_ELEMENTS)
    assert seen[0][0] == 0 and seen[-1][1] == 10
    assert all(left[1] == right[0] for left, right in zip(seen, seen[1:]))
    total, want = _sums(16)
    assert total == want


@pytest.mark.skipif(threads._blas.get is None or threads.block_threads() < 2,
                    reason="needs numpy's OpenBLAS thread control and 2+ BLAS threads")
def test_a_fork_while_blocks_run_leaves_the_child_consistent():
    before = threads._blas.get()
    started, finish = threading.Event(), threading.Event()

    def block(next_block):
        while next_block() is not None:
            started.set()
            finish.wait(10)

    runner = threading.Thread(target=threads.run_blocks, args=(block, [(0, 1), (1, 2)]))
    runner.start()
    started.wait(10)
    try:
        assert threads._blas.get() == 1  # blocks running: BLAS single-threaded

        def child() -> bool:
            total, want = _sums(16)  # a new pool (the parent's threads are gone), BLAS back at its count
            return threads._blas.get() == before and threads.block_threads() == before and total == want

        assert run_forked(child, timeout=30)
    finally:
        finish.set()
        runner.join()
    assert threads._blas.get() == before
