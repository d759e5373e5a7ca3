"""L2 normalisation with learned scale (SSD Normalize) vs finite differences and a plain loop."""
import numpy as np
import pytest

from bigdl_runtime.kernels.l2norm import l2_normalize_backward, l2_normalize_forward
from tests.helpers.gradcheck import check_kernel


@pytest.mark.parametrize("shape", [(2, 3, 4, 2), (2, 5), (1, 3, 5)])
@pytest.mark.parametrize("across_spatial", [True, False])
@pytest.mark.parametrize("shared", [True, False])
def test_l2_normalize_gradients(shape, across_spatial, shared, rng):
    scale = rng.standard_normal(1 if shared else shape[1])
    check_kernel(l2_normalize_forward, l2_normalize_backward, [rng.standard_normal(shape), scale],
                 dict(across_spatial=across_spatial, eps=1e-3))


def test_l2_normalize_matches_a_plain_loop(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    scale = rng.uniform(1, 3, 3).astype(np.float32)
    y, _ = l2_normalize_forward(x, scale, across_spatial=False, eps=1e-6)
    want = np.empty_like(x)
    for n in range(2):
        for i in range(4):
            for j in range(5):
                v = x[n, :, i, j].astype(np.float64)
                want[n, :, i, j] = v / np.sqrt((v ** 2).sum() + 1e-6) * scale
    np.testing.assert_allclose(y, want, rtol=1e-5)
    y, _ = l2_normalize_forward(x, scale[:1], across_spatial=True, eps=1e-6)
    norms = np.sqrt((x.astype(np.float64) ** 2).sum(axis=(1, 2, 3)) + 1e-6)
    np.testing.assert_allclose(y, x / norms[:, None, None, None] * scale[0], rtol=1e-5)


def test_l2_normalize_rejects_bad_scale():
    with pytest.raises(ValueError, match=r"scale has shape \(2,\), expected \(1,\) or \(3,\)"):
        l2_normalize_forward(np.ones((1, 3, 2, 2)), np.ones(2))
