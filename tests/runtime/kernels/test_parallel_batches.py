"""Kernels that split elementwise passes over the batch on worker threads give the same results."""
import numpy as np
import pytest

from bigdl_runtime.kernels import threads as C
from bigdl_runtime.kernels import norm as N


@pytest.fixture
def threads(monkeypatch):
    """Force ``k`` worker threads and no size threshold, so small test arrays take the threaded path."""
    def use(k):
        monkeypatch.setattr(C, "block_threads", lambda: k)
        monkeypatch.setattr(C, "PARALLEL_MIN_ELEMENTS", 0)
    return use


def test_parallel_batches_covers_the_batch_in_order(threads):
    threads(3)
    ranges = C.parallel_batches(lambda a, b: (a, b), 10, 10)
    assert ranges == [(0, 3), (3, 6), (6, 10)]


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_threaded_equals_single_threaded_and_float64(threads, training, rng):
    x = (rng.standard_normal((7, 5, 6, 3)) * 3 + 2).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, 5).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    mean, var = rng.standard_normal(5).astype(np.float32), rng.uniform(0.5, 2, 5).astype(np.float32)
    results = {}
    for k in (1, 3):
        threads(k)
        y, cache = N.batch_norm_forward(x, gamma, beta, mean, var, training)
        results[k] = (y, *N.batch_norm_backward(dy, cache)[:3])
    for single, threaded in zip(results[1], results[3]):
        np.testing.assert_allclose(threaded, single, rtol=1e-5, atol=1e-5)
    x64 = x.astype(np.float64)
    m, v = (x64.mean(axis=(0, 2, 3)), x64.var(axis=(0, 2, 3))) if training else (mean, var)
    ref = (x64 - m.reshape(1, -1, 1, 1)) / np.sqrt(v.reshape(1, -1, 1, 1) + 1e-5) * gamma.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(results[3][0], ref + beta.reshape(1, -1, 1, 1), rtol=1e-4, atol=1e-4)
