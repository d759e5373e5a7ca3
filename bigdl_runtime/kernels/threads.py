"""Worker threads for batch-blocked kernels, with numpy's BLAS held at one thread meanwhile.

Blocks of a batch are spread over as many threads as numpy's BLAS has, with BLAS at one
thread while they run: the copies between GEMMs run in parallel too, and on a loaded machine
no multi-threaded GEMM waits for a descheduled helper thread (2-thread OpenBLAS on a busy
2-core machine runs several times slower than 1 thread). ``PARALLEL_BLOCKS = False`` leaves
threading to BLAS. Used by the convolutions (:func:`run_blocks`) and by memory-bound passes
such as batch norm (:func:`parallel_batches`).
"""
from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator

#: Process batch blocks on as many threads as numpy's BLAS has (BLAS single-threaded meanwhile);
#: False leaves all threading to BLAS.
PARALLEL_BLOCKS = True


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
_state_lock = threading.Lock()
_state = {"active": 0, "saved": 1, "pool": None, "pool_key": None}


def block_threads() -> int:
    """Worker threads for batch blocks: numpy's BLAS thread count (1 if it cannot be controlled)."""
    if not PARALLEL_BLOCKS or _blas.get is None:
        return 1
    with _state_lock:
        return int(_state["saved"] if _state["active"] else _blas.get())


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS at one thread while block workers run (reference-counted across callers)."""
    if _blas.set is None:
        yield
        return
    with _state_lock:
        if _state["active"] == 0:
            _state["saved"] = int(_blas.get())
            _blas.set(1)
        _state["active"] += 1
    try:
        yield
    finally:
        with _state_lock:
            _state["active"] -= 1
            if _state["active"] == 0:
                _blas.set(_state["saved"])


def _pool(workers: int) -> ThreadPoolExecutor:
    """The shared worker pool, rebuilt after a fork (the child has no threads) or to grow."""
    with _state_lock:
        pid, size = _state["pool_key"] or (None, 0)
        if pid != os.getpid() or size < workers:
            if pid == os.getpid():
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conv-block")
            _state["pool_key"] = (os.getpid(), workers)
        return _state["pool"]


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
    with _single_threaded_blas():
        futures = [_pool(workers).submit(work, next_block) for _ in range(workers)]
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
