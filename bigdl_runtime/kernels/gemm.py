"""Matrix products: small ones with BLAS at one thread, large ones on numpy's BLAS with its own threads.

A product too small to share between threads gains nothing from OpenBLAS's helper thread and waits
for it: on the 2-core machine, idle, LeNet-5's LocalTrainer iteration (b128) took 16.0 ms with every
product on OpenBLAS's 2 threads and 9.3 ms with the products below :data:`SMALL_GEMM_MACS`
on the calling thread (not oneDNN's OpenMP threads spinning: ``OMP_WAIT_POLICY=PASSIVE`` changed
nothing); on a loaded machine a descheduled helper stalls a small product
((1, 512) x (512, 2048): 9.7 ms on 2 threads against 0.06 ms on one, at load 10). Large products keep
OpenBLAS's threads: cut into one-threaded bands over the block workers instead, they were 1.25-2.25x
slower idle ((64, 2560) x (2560, 2560): 5.9 against 3.9 ms; the 11M-parameter MLP's LocalTrainer
iteration 43.8 against 34.0 ms).
"""
from __future__ import annotations

import numpy as np

from .threads import block_threads, single_threaded_blas

#: products of fewer multiply-adds (about 0.3 ms on one core) run with BLAS at one thread
SMALL_GEMM_MACS = 1 << 24


#: products of fewer multiply-adds OpenBLAS runs on the calling thread by itself (its GEMV shares a product of
#: a K x N matrix with at least 9216 values between threads, its GEMM one of at least 2**18 multiply-adds)
OPENBLAS_SINGLE_MACS = 9216


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)`` (numpy's broadcasting and 1-D rules), on one BLAS thread when it is small."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
        # the common case, quickly: ``np.dot`` is ``np.matmul`` on matrices, 0.3 us sooner on a small one
        macs = a.shape[0] * a.shape[1] * b.shape[1]
        if macs < OPENBLAS_SINGLE_MACS or macs >= SMALL_GEMM_MACS:
            return np.dot(a, b)
        with single_threaded_blas():
            return np.dot(a, b)
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    k = a.shape[-1]
    if a.ndim > 2 and b.ndim == 2:  # a shared weight: one GEMM over the flattened batch
        return matmul(a.reshape(-1, k), b).reshape(*a.shape[:-1], b.shape[-1])
    rows = a.shape[-2] if a.ndim > 1 else 1
    cols = b.shape[-1] if b.ndim > 1 else 1
    batch = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))) if max(a.ndim, b.ndim) > 2 else 1
    if batch * rows * k * cols < SMALL_GEMM_MACS and block_threads() > 1:
        with single_threaded_blas():
            return np.matmul(a, b)
    return np.matmul(a, b)
