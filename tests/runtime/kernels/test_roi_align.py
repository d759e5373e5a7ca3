"""RoiAlign kernel: finite-difference gradients for the feature map (float64), forwards vs onnxruntime."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import roi_align as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node_ort

RNG = np.random.default_rng(0)
X = RNG.standard_normal((2, 3, 6, 7))
ROIS = np.array([[0.3, 0.7, 4.9, 5.2], [1.1, 0.2, 3.3, 2.9], [-2.0, -1.5, 3.0, 8.0], [5.5, 4.5, 9.0, 8.0]])
BATCH = np.array([0, 1, 1, 0])


@pytest.mark.parametrize("half_pixel", [True, False])
@pytest.mark.parametrize("ratio", [0, 2])
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_backward_matches_finite_differences(mode: str, ratio: int, half_pixel: bool) -> None:
    check_kernel(K.roi_align_forward, K.roi_align_backward, [X, ROIS, BATCH],
                 {"output_height": 3, "output_width": 2, "sampling_ratio": ratio, "spatial_scale": 0.9,
                  "mode": mode, "half_pixel": half_pixel}, diff=[0])


@pytest.mark.parametrize("half_pixel", [True, False])
@pytest.mark.parametrize("ratio", [0, 2])
@pytest.mark.parametrize("mode", ["avg", "max"])
def test_forward_matches_onnxruntime(mode: str, ratio: int, half_pixel: bool) -> None:
    x, rois = X.astype(np.float32), ROIS.astype(np.float32)
    y, _ = K.roi_align_forward(x, rois, BATCH, 3, 2, ratio, 0.9, mode, half_pixel)
    want = run_node_ort("RoiAlign", [x, rois, BATCH], opset=16, output_height=3, output_width=2,
                        sampling_ratio=ratio, spatial_scale=0.9, mode=mode,
                        coordinate_transformation_mode="half_pixel" if half_pixel else "output_half_pixel")[0]
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)
    assert y.dtype == np.float32
