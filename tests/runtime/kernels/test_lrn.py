"""LRN kernels (across and within channels) vs finite differences, the ONNX reference and a plain loop."""
import numpy as np
import pytest

from bigdl_runtime.kernels.lrn import lrn_across_backward, lrn_across_forward, lrn_within_backward, lrn_within_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node_ort


@pytest.mark.parametrize("shape,size", [((2, 5, 3, 2), 3), ((1, 7, 2), 5), ((2, 3, 2, 2), 5), ((1, 4, 3), 1)])
def test_lrn_across_gradients(shape, size, rng):
    check_kernel(lrn_across_forward, lrn_across_backward, [rng.standard_normal(shape)],
                 dict(size=size, alpha=0.7, beta=0.75, k=1.5))


@pytest.mark.parametrize("shape,size", [((2, 2, 5, 4), 3), ((1, 3, 3, 6), 5), ((1, 1, 2, 2), 1)])
def test_lrn_within_gradients(shape, size, rng):
    check_kernel(lrn_within_forward, lrn_within_backward, [rng.standard_normal(shape)],
                 dict(size=size, alpha=2.0, beta=0.6, k=1.0))


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_lrn_across_matches_onnxruntime(size, rng):
    """onnxruntime, not the onnx reference evaluator (onnx 1.x's LRN loops over the batch, not the channels)."""
    x = rng.standard_normal((2, 9, 4, 5)).astype(np.float32)
    y, _ = lrn_across_forward(x, size, alpha=1e-2, beta=0.75, k=2.0)
    (ref,) = run_node_ort("LRN", [x], opset=13, size=size, alpha=1e-2, beta=0.75, bias=2.0)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_lrn_across_matches_torch(rng):
    import torch
    x = rng.standard_normal((2, 8, 5, 5)).astype(np.float32)
    y, _ = lrn_across_forward(x, 5, alpha=1e-3, beta=0.75, k=1.0)
    ref = torch.nn.LocalResponseNorm(5, alpha=1e-3, beta=0.75, k=1.0)(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_lrn_across_even_size_window_follows_the_onnx_spec(rng):
    """Window [c - floor((size-1)/2), c + ceil((size-1)/2)] (onnxruntime only takes odd sizes)."""
    x = rng.standard_normal((2, 6, 3))
    y, _ = lrn_across_forward(x, 4, alpha=0.5, beta=0.75, k=1.0)
    want = np.empty_like(x)
    for c in range(6):
        window = x[:, max(0, c - 1):min(6, c + 3)]
        want[:, c] = x[:, c] / (1.0 + 0.5 / 4 * (window ** 2).sum(axis=1)) ** 0.75
    np.testing.assert_allclose(y, want, rtol=1e-12)


def _within_loop(x, size, alpha, beta, k):
    n, c, h, w = x.shape
    pad = (size - 1) // 2
    out = np.empty_like(x)
    for i in range(h):
        for j in range(w):
            win = x[:, :, max(0, i - pad):min(h, i - pad + size), max(0, j - pad):min(w, j - pad + size)]
            out[:, :, i, j] = x[:, :, i, j] / (k + alpha / size ** 2 * (win ** 2).sum(axis=(2, 3))) ** beta
    return out


@pytest.mark.parametrize("size", [1, 3, 5])
def test_lrn_within_matches_a_plain_loop(size, rng):
    x = rng.standard_normal((2, 3, 6, 7))
    y, _ = lrn_within_forward(x, size, alpha=1.5, beta=0.75, k=1.0)
    np.testing.assert_allclose(y, _within_loop(x, size, 1.5, 0.75, 1.0), rtol=1e-12)


def test_lrn_rejects_bad_input():
    with pytest.raises(ValueError, match="lrn_within: expected input"):
        lrn_within_forward(np.zeros((2, 3, 4)), 3)
    with pytest.raises(ValueError, match="size must be >= 1"):
        lrn_across_forward(np.zeros((2, 3)), 0)
