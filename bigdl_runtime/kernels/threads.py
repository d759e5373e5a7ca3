"""Worker threads for batch-blocked kernels, with numpy's BLAS held at one thread meanwhile.

Blocks of a batch are spread over as many threads as numpy's BLAS has, with BLAS at one
thread while they run: the copies between GEMMs run in parallel too, and on a loaded machine
no multi-threaded GEMM waits for a descheduled helper thread (2-thread OpenBLAS on a busy
2-core machine runs several times slower than 1 thread). Used by the convolutions
(:func:`run_blocks`) and by memory-bound passes such as batch norm (:func:`parallel_batches`).
The process-wide state (the worker pool, BLAS's saved thread count) is one :class:`_Workers`
object, which a fork leaves consistent: the child gets no pool threads, so it builds its own,
and BLAS gets its thread count back if a fork caught blocks running.
"""
from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable


class _BlasThreads:
    """Read and set the thread count of the OpenBLAS that numpy loaded (no-op where not found)."""

    def __init__(self) -> None:
        self.get: Callable[[], int] | None = None
        self.set: Callable[[int], None] | None = None
        try:
            with open("/proc/self/maps") as maps:
                paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
        except OSError:
            return
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    put.argtypes = [ctypes.c_int]
                    self.get, self.set = get, put
                    return


_blas = _BlasThreads()


class _Workers:
    """The block workers of this process: the thread pool, and BLAS's thread count saved while blocks run
    (reference-counted across concurrent callers), under one lock that a fork never leaves held."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0  # callers running blocks now (BLAS at one thread meanwhile)
        self.saved = 1  # BLAS's thread count before the first of them
        self.pool: ThreadPoolExecutor | None = None
        self.pool_size = 0
        self._single = _SingleThreadedBlas(self)
        os.register_at_fork(before=self.lock.acquire, after_in_parent=self.lock.release,
                            after_in_child=self._after_fork_in_child)

    def count(self) -> int:
        """Worker threads for batch blocks: numpy's BLAS thread count (1 if it cannot be controlled)."""
        if _blas.get is None:
            return 1
        with self.lock:
            return int(self.saved if self.active else _blas.get())

    def single_threaded_blas(self) -> "_SingleThreadedBlas":
        """BLAS at one thread while block workers run (or a small GEMM does)."""
        return self._single

    def executor(self, workers: int) -> ThreadPoolExecutor:
        """The shared pool, grown to ``workers`` threads when needed."""
        with self.lock:
            if self.pool is None or self.pool_size < workers:
                if self.pool is not None:
                    self.pool.shutdown(wait=False)
                self.pool, self.pool_size = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conv-block"), workers
            return self.pool

    def _after_fork_in_child(self) -> None:
        """No pool threads survived the fork: the child builds its own pool; blocks that were running in the
        parent will never end here, so BLAS gets its thread count back."""
        self.pool, self.pool_size = None, 0
        if self.active and _blas.set is not None:
            _blas.set(self.saved)
        self.active = 0
        self.lock.release()


class _SingleThreadedBlas:
    """The context manager of :meth:`_Workers.single_threaded_blas`: BLAS at one thread from the first
    of the concurrent callers in to the last one out. A plain class, not a generator: it is entered for
    every small GEMM (1.8 us per use as a ``contextlib`` generator)."""

    __slots__ = ("workers",)

    def __init__(self, workers: _Workers) -> None:
        self.workers = workers

    def __enter__(self) -> None:
        if _blas.set is None:
            return
        w = self.workers
        w.lock.acquire()  # not ``with``: a third of this method's time on a small GEMM
        if w.active == 0:
            w.saved = _blas.get()
            if w.saved != 1:
                _blas.set(1)
        w.active += 1
        w.lock.release()

    def __exit__(self, *exc: object) -> None:
        if _blas.set is None:
            return
        w = self.workers
        w.lock.acquire()
        w.active -= 1
        if w.active == 0 and w.saved != 1:
            _blas.set(w.saved)
        w.lock.release()


_workers = _Workers()


def single_threaded_blas() -> Any:
    """A context manager holding BLAS at one thread inside it: for a GEMM too small to share between
    threads, which a loaded machine would stall waiting for a descheduled helper thread."""
    return _workers.single_threaded_blas()


def block_threads() -> int:
    """Worker threads for batch blocks: numpy's BLAS thread count (1 if it cannot be controlled)."""
    return _workers.count()


def run_blocks(work: Callable[[Callable[[], tuple[int, int] | None]], Any],
                blocks: list[tuple[int, int]]) -> list[Any]:
    """Run ``work(next_block)`` on the block workers; each pulls (n0, n1) until None.

    With several workers BLAS runs single-threaded inside each, so the copies between GEMMs
    are parallel too and a loaded machine does not stall a multi-threaded GEMM.
    """
    workers = min(block_threads(), len(blocks))
    pending = iter(blocks)
    lock = threading.Lock()

    def next_block() -> tuple[int, int] | None:
        with lock:
            return next(pending, None)

    if workers <= 1:
        return [work(next_block)]
    with _workers.single_threaded_blas():
        pool = _workers.executor(workers)
        futures = [pool.submit(work, next_block) for _ in range(workers)]
        return [f.result() for f in futures]


#: Elementwise work below this many elements stays on the calling thread (dispatch costs more).
PARALLEL_MIN_ELEMENTS = 1 << 18


def parallel_batches(fn: Callable[[int, int], Any], n: int, elements: int) -> list[Any]:
    """``fn(n0, n1)`` over contiguous ranges covering ``0..n`` of a batch axis, in range order.

    The ranges run on the block workers (as many as numpy's BLAS has threads) when the work
    touches at least ``PARALLEL_MIN_ELEMENTS`` elements; numpy releases the GIL inside its
    loops, so memory-bound passes (batch norm, ReLU) use every core as the GEMMs do.

    Args:
        fn: work on one range; returns a partial result (e.g. per-channel sums) or None.
        n: length of the batch axis.
        elements: total elements the work touches (decides whether threads pay off).

    Returns:
        the results of ``fn`` per range, in order.
    """
    workers = min(block_threads(), n) if elements >= PARALLEL_MIN_ELEMENTS else 1
    if workers <= 1:
        return [fn(0, n)]
    bounds = [n * k // workers for k in range(workers + 1)]
    blocks = list(zip(bounds[:-1], bounds[1:]))
    results: dict[tuple[int, int], Any] = {}

    def work(next_block: Callable[[], tuple[int, int] | None]) -> None:
        while (block := next_block()) is not None:
            results[block] = fn(*block)

    run_blocks(work, blocks)
    return [results[b] for b in blocks]
