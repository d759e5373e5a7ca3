"""The direct inference path of small convolutions (kernels/conv_infer) against conv2d_forward."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from bigdl_runtime.kernels import onednn
from bigdl_runtime.kernels.conv import conv2d_forward
from bigdl_runtime.kernels.conv_infer import (DIRECT_MAX_COLUMNS, ONEDNN_MAX_POSITIONS, ONEDNN_MIN_MACS, apply_relu,
                                              direct_plan)
from bigdl_runtime.kernels.onednn_matmul import MatmulPlan

#: (x shape, w shape, stride, padding, dilation, groups)
GEOMETRIES = [
    ((1, 1, 1, 640), (258, 1, 1, 256), (1, 128), 0, 1, 1),            # an STFT as a 1-D convolution
    ((1, 129, 1, 4), (128, 129, 1, 3), 1, (0, 1, 0, 1), 1, 1),         # a streaming frame
    ((2, 4, 9, 7), (6, 4, 3, 2), (2, 1), (1, 0, 2, 1), 1, 1),          # asymmetric pads, non-square kernel
    ((2, 4, 9, 9), (4, 2, 3, 3), 1, 2, 2, 2),                          # groups and dilation
    ((1, 8, 6, 6), (16, 1, 3, 3), 2, 1, 1, 8),                         # depthwise with a channel multiplier
    ((3, 5, 4, 4), (7, 5, 1, 1), 1, 0, 1, 1),                          # pointwise
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES, ids=[str(g[0]) + str(g[1]) for g in GEOMETRIES])
def test_direct_path_matches_conv2d_forward(geometry, dtype) -> None:
    x_shape, w_shape, stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    run = direct_plan(x.shape, w.shape, x.dtype, w.dtype, stride, padding, dilation, groups)
    assert run is not None
    want = conv2d_forward(x, w, b, stride, padding, dilation, groups)[0]
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(run(x, w, b), want, rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(run(x, w, None), conv2d_forward(x, w, None, stride, padding, dilation, groups)[0],
                               rtol=tol, atol=tol * np.abs(want).max())
    np.testing.assert_allclose(run(x[::-1].copy(), w, b), conv2d_forward(x[::-1].copy(), w, b, stride, padding,
                                                                      dilation, groups)[0],
                               rtol=tol, atol=tol * np.abs(want).max())  # the plan is per shape, not per array


def test_direct_path_reads_a_non_contiguous_input() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 6, 10)).astype(np.float32)[..., ::2]
    w = rng.standard_normal((3, 4, 3, 3)).astype(np.float32)
    run = direct_plan(x.shape, w.shape, x.dtype, w.dtype, 1, 0, 1, 1)
    np.testing.assert_allclose(run(x, w, None), conv2d_forward(x, w)[0], rtol=1e-5, atol=1e-5)


def test_large_mixed_or_invalid_problems_are_left_to_the_general_path() -> None:
    f32 = np.dtype(np.float32)
    big = (8, 64, 32, 32)
    assert 8 * 32 * 32 * 64 * 9 > DIRECT_MAX_COLUMNS
    assert direct_plan(big, (64, 64, 3, 3), f32, f32, 1, 1, 1, 1) is None
    assert direct_plan((1, 4, 5, 5), (4, 4, 3, 3), f32, np.dtype(np.float64), 1, 1, 1, 1) is None
    assert direct_plan((1, 4, 5, 5), (4, 3, 3, 3), f32, f32, 1, 1, 1, 1) is None   # channels do not match
    assert direct_plan((1, 4, 2, 2), (4, 4, 3, 3), f32, f32, 1, 0, 1, 1) is None   # the kernel does not fit


def test_apply_relu_clips_in_place() -> None:
    y = np.array([-1.0, 3.0, 8.0], np.float32)
    assert apply_relu(y.copy(), False).tolist() == [-1.0, 3.0, 8.0]
    assert apply_relu(y.copy(), True).tolist() == [0.0, 3.0, 8.0]
    assert apply_relu(y.copy(), 6.0).tolist() == [0.0, 3.0, 6.0]


@pytest.mark.skipif(not onednn.available(), reason="oneDNN (onednn-cpu-gomp) is not installed")
def test_few_output_positions_run_their_product_on_onednn() -> None:
    """A float32 geometry of one group, at most ONEDNN_MAX_POSITIONS outputs and ONEDNN_MIN_MACS multiply-adds or
    more takes the oneDNN product; more positions, fewer multiply-adds, float64 or groups stay on numpy."""
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    w = np.ones((128, 129, 1, 3), np.float32)
    frame = direct_plan((1, 129, 1, 4), w.shape, f32, f32, 1, (0, 1, 0, 1), 1, 1)
    frame(np.ones((1, 129, 1, 4), np.float32), w, None)
    assert isinstance(frame.matmul.plan, MatmulPlan)
    pickled = pickle.loads(pickle.dumps(frame))  # the plan stays behind; the copy makes its own
    np.testing.assert_array_equal(pickled(np.ones((1, 129, 1, 4), np.float32), w, None),
                                  conv2d_forward(np.ones((1, 129, 1, 4), np.float32), w, None, 1, (0, 1, 0, 1))[0])
    wide = (1, 4, 16, 16)
    assert 16 * 16 > ONEDNN_MAX_POSITIONS
    assert direct_plan(wide, (4, 4, 3, 3), f32, f32, 1, 1, 1, 1).matmul is False
    assert direct_plan((1, 129, 1, 4), w.shape, f64, f64, 1, (0, 1, 0, 1), 1, 1).matmul is False
    assert direct_plan((2, 4, 9, 9), (4, 2, 3, 3), f32, f32, 1, 2, 2, 2).matmul is False
    assert 4 * 129 * 3 * 128 >= ONEDNN_MIN_MACS > 4 * 129 * 3 * 32
    few = direct_plan((1, 129, 1, 4), (32, 129, 1, 3), f32, f32, 1, (0, 1, 0, 1), 1, 1)  # a quarter of the MACs
    assert few.matmul is False
    x, w32 = np.ones((1, 129, 1, 4), np.float32), np.ones((32, 129, 1, 3), np.float32)
    np.testing.assert_allclose(few(x, w32, None), conv2d_forward(x, w32, None, 1, (0, 1, 0, 1))[0], rtol=1e-6)
