"""Kernels that split elementwise passes over the batch on worker threads give the same results."""
import numpy as np
import pytest

from bigdl_runtime.kernels import threads as C
from bigdl_runtime.kernels import norm as N
from bigdl_runtime.kernels import pool as P


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


@pytest.mark.parametrize("k,s,p,d,ceil", [(3, 2, 1, 1, False), (2, 1, 0, (2, 1), True), ((3, 2), (2, 1), (1, 0, 0, 1), 1, True)])
def test_max_pool_threaded_equals_single_threaded_and_a_window_loop(threads, k, s, p, d, ceil, rng):
    # ReLU-like input: many zeros, so ties between taps are routed by the threaded path too
    x = np.maximum(rng.standard_normal((5, 3, 9, 8)), 0).astype(np.float32)
    results = {}
    for workers in (1, 3):
        threads(workers)
        y, cache = P.max_pool2d_forward(x, k, s, p, d, ceil)
        results[workers] = (y, P.max_pool2d_backward(np.ones_like(y), cache)[0])
    for single, threaded in zip(results[1], results[3]):
        np.testing.assert_array_equal(threaded, single)
    # independent reference: an explicit loop over output pixels and their windows
    y, dx = results[3]
    kh, kw = (k, k) if isinstance(k, int) else k
    sh, sw = (s, s) if isinstance(s, int) else s
    dh, dw = (d, d) if isinstance(d, int) else d
    top, left = (p, p) if isinstance(p, int) else p[:2]
    ref_dx = np.zeros_like(x)
    for n, c, i, j in np.ndindex(y.shape):
        cells = [(i * sh + a * dh - top, j * sw + b * dw - left) for a in range(kh) for b in range(kw)]
        cells = [(r, q) for r, q in cells if 0 <= r < x.shape[2] and 0 <= q < x.shape[3]]
        values = [x[n, c, r, q] for r, q in cells]
        assert y[n, c, i, j] == max(values)
        ref_dx[(n, c, *cells[int(np.argmax(values))])] += 1  # argmax: the first maximum in row-major order
    np.testing.assert_array_equal(dx, ref_dx)
