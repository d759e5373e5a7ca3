"""What every benchmark section shares: the row type, thread counts and alternating timing."""
from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy  # noqa: F401  (loads the OpenBLAS whose thread count is read and set here)

Runner = Callable[[], None]
#: pause before every timed run (see :func:`measure`)
SETTLE_SECONDS = 0.03


@dataclass
class Case:
    """One row: ``setup()`` builds inputs and returns ``{"ours": fn, "torch": fn, ...}``.

    Every value is a zero-argument callable doing one unit of work (a forward + backward, a
    training step, a batch of inference). ``flops`` (0 when memory-bound) gives the GFLOP/s
    column; ``reference`` names the framework the ratio and ``target`` refer to.
    """

    section: str
    name: str
    setup: Callable[[], dict[str, Runner]]
    flops: float = 0.0
    reference: str = "torch"
    target: float | None = None
    extra: dict = field(default_factory=dict)


def _openblas_symbol(kind: str) -> Callable | None:
    """``openblas_{kind}_num_threads`` (any of its spellings) of the OpenBLAS numpy loaded."""
    with open("/proc/self/maps") as maps:
        libs = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    for path in sorted(libs):
        lib = ctypes.CDLL(path)
        for symbol in (f"openblas_{kind}_num_threads", f"scipy_openblas_{kind}_num_threads64_",
                       f"openblas_{kind}_num_threads64_"):
            if hasattr(lib, symbol):
                return getattr(lib, symbol)
    return None


def blas_threads() -> int:
    """Threads numpy's OpenBLAS uses (read from the loaded library), else the CPU count."""
    get = _openblas_symbol("get")
    return int(get()) if get is not None else (os.cpu_count() or 1)


def set_blas_threads(threads: int) -> None:
    """Make numpy's OpenBLAS use ``threads`` threads (our conv kernels follow it)."""
    put = _openblas_symbol("set")
    if put is None:
        raise RuntimeError("cannot set the BLAS thread count: numpy's OpenBLAS was not found")
    put.argtypes = [ctypes.c_int]
    put(int(threads))


def measure(runners: dict[str, Runner], repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` seconds of each runner after one warm-up call each.

    The runners alternate inside every repeat, so a burst of load from other processes
    hits all of them alike; the minimum is the least disturbed run. Each run starts
    ``SETTLE_SECONDS`` after the previous one returned: worker threads that spin on after a
    call (onnxruntime's pool) otherwise keep a core busy into the next runner's time
    (ResNet-18 int8 at 2 threads: ours 10-25 % slower right after an onnxruntime run).
    """
    for fn in runners.values():
        fn()
    times: dict[str, list[float]] = {key: [] for key in runners}
    for _ in range(repeats):
        for key, fn in runners.items():
            time.sleep(SETTLE_SECONDS)
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return {key: min(values) for key, values in times.items()}
