"""GridSample kernel: finite-difference gradients (float64) for every mode and padding, forwards vs onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import grid_sample as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node_ort

MODES = ["nearest", "linear", "cubic"]
PADDINGS = ["zeros", "border", "reflection"]


def _grid(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-1.3, 1.3, shape)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", ["linear", "cubic"])
def test_backward_matches_finite_differences(mode: str, padding_mode: str, align_corners: bool) -> None:
    rng = np.random.default_rng(0)
    x, grid = rng.standard_normal((2, 2, 4, 5)), _grid(rng, (2, 3, 2, 2))
    check_kernel(K.grid_sample_forward, K.grid_sample_backward, [x, grid],
                 {"mode": mode, "padding_mode": padding_mode, "align_corners": align_corners}, rtol=1e-4, atol=1e-6)


def test_backward_in_3d_and_nearest_has_no_grid_gradient() -> None:
    rng = np.random.default_rng(1)
    x, grid = rng.standard_normal((1, 2, 3, 3, 4)), _grid(rng, (1, 2, 2, 2, 3))
    check_kernel(K.grid_sample_forward, K.grid_sample_backward, [x, grid], {"mode": "linear"}, rtol=1e-4)
    check_kernel(K.grid_sample_forward, K.grid_sample_backward, [x, grid], {"mode": "nearest"}, diff=[0])
    _, cache = K.grid_sample_forward(x, grid, mode="nearest")
    assert not K.grid_sample_backward(np.ones((1, 2, 2, 2, 2)), cache)[1].any()


@pytest.mark.parametrize("align_corners", [0, 1])
@pytest.mark.parametrize("padding_mode", PADDINGS)
@pytest.mark.parametrize("mode", MODES)
def test_forward_matches_onnxruntime(mode: str, padding_mode: str, align_corners: int) -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    grid = _grid(rng, (2, 6, 3, 2)).astype(np.float32)
    y, _ = K.grid_sample_forward(x, grid, mode, padding_mode, bool(align_corners))
    want = run_node_ort("GridSample", [x, grid], opset=20, mode=mode, padding_mode=padding_mode,
                        align_corners=align_corners)[0]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert y.dtype == np.float32
