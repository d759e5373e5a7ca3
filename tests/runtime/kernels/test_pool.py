"""pool kernels: finite-difference gradients, tie routing, and ONNX forward references.

The onnx reference evaluator mis-sizes MaxPool with stride 1 and uneven pads and
splits AveragePool's ceil-mode overflow across both ends, so the full geometry
table is compared with onnxruntime; ``run_node`` covers the cases it gets right.
"""
import numpy as np
import pytest

from bigdl_runtime.kernels.pool import (
    adaptive_avg_pool2d_backward, adaptive_avg_pool2d_forward, avg_pool2d_backward, avg_pool2d_forward,
    global_avg_pool2d_backward, global_avg_pool2d_forward, global_max_pool2d_backward, global_max_pool2d_forward,
    max_pool2d_backward, max_pool2d_forward)
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node, run_node_ort

# (input shape, kernel_size, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 2, 4, 4), 2, None, 0, 1, False),
    ((1, 2, 5, 7), (3, 2), (2, 1), 1, 1, False),
    ((2, 1, 5, 6), 3, 2, (1, 0), 1, True),
    ((1, 2, 6, 5), (2, 3), (2, 2), (1, 0, 0, 1), 1, True),
    ((1, 1, 7, 6), 2, 1, 0, (2, 1), False),
    ((1, 2, 7, 7), 3, 2, 1, 2, True),
    ((2, 1, 3, 5), (1, 3), (1, 3), (0, 1), 1, True),
]

# (input shape, kernel_size, stride, padding, ceil_mode)
AVG_CASES = [
    ((2, 2, 4, 4), 2, None, 0, False),
    ((1, 2, 5, 7), (3, 2), (2, 1), 1, False),
    ((2, 1, 5, 6), 3, 2, (1, 0), True),
    ((1, 2, 6, 5), (2, 3), (2, 2), (1, 0, 0, 1), True),
    ((1, 1, 7, 4), (3, 2), (3, 1), 0, True),
    ((2, 1, 3, 5), (1, 3), (1, 3), (0, 1), True),
]


@pytest.mark.parametrize("shape,k,s,p,d,ceil", MAX_CASES)
def test_max_pool2d_gradients(shape, k, s, p, d, ceil, rng):
    check_kernel(max_pool2d_forward, max_pool2d_backward, [rng.standard_normal(shape)],
                 dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape,k,s,p,ceil", AVG_CASES)
def test_avg_pool2d_gradients(shape, k, s, p, ceil, count_include_pad, rng):
    check_kernel(avg_pool2d_forward, avg_pool2d_backward, [rng.standard_normal(shape)],
                 dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=count_include_pad))


@pytest.mark.parametrize("fwd,bwd", [(global_avg_pool2d_forward, global_avg_pool2d_backward),
                                     (global_max_pool2d_forward, global_max_pool2d_backward)])
@pytest.mark.parametrize("shape", [(2, 3, 3, 4), (1, 2, 1, 5), (2, 1, 7)])
def test_global_pool_gradients(fwd, bwd, shape, rng):
    check_kernel(fwd, bwd, [rng.standard_normal(shape)])


@pytest.mark.parametrize("shape,out", [((2, 2, 5, 7), (3, 2)), ((1, 1, 4, 4), 2), ((1, 2, 3, 5), (4, 5))])
def test_adaptive_avg_pool2d_gradients(shape, out, rng):
    check_kernel(adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward, [rng.standard_normal(shape)],
                 dict(output_size=out))


def test_max_pool2d_routes_ties_to_first_maximum():
    x = np.ones((1, 1, 2, 4), np.float32)
    y, cache = max_pool2d_forward(x, 2)
    (dx,) = max_pool2d_backward(np.array([[[[3.0, 5.0]]]], np.float32), cache)
    np.testing.assert_array_equal(dx[0, 0], [[3, 0, 5, 0], [0, 0, 0, 0]])


def test_max_pool2d_overlapping_windows_accumulate():
    x = np.array([[[[0, 1, 0], [0, 9, 0], [0, 0, 0]]]], np.float32)
    y, cache = max_pool2d_forward(x, 2, stride=1)
    np.testing.assert_array_equal(y[0, 0], [[9, 9], [9, 9]])
    (dx,) = max_pool2d_backward(np.ones_like(y), cache)
    assert dx[0, 0, 1, 1] == 4 and dx.sum() == 4


def test_global_max_pool2d_routes_ties_to_first_maximum():
    x = np.zeros((1, 1, 2, 2), np.float32)
    _, cache = global_max_pool2d_forward(x)
    (dx,) = global_max_pool2d_backward(np.full((1, 1, 1, 1), 2.0, np.float32), cache)
    np.testing.assert_array_equal(dx[0, 0], [[2, 0], [0, 0]])


@pytest.mark.parametrize("fwd,bwd,args", [
    (max_pool2d_forward, max_pool2d_backward, (3,)),
    (avg_pool2d_forward, avg_pool2d_backward, ((2, 3), 1, 1)),
    (global_avg_pool2d_forward, global_avg_pool2d_backward, ()),
    (global_max_pool2d_forward, global_max_pool2d_backward, ()),
    (adaptive_avg_pool2d_forward, adaptive_avg_pool2d_backward, ((2, 3),)),
])
def test_pool_keeps_float32(fwd, bwd, args, rng):
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    y, cache = fwd(x, *args)
    (dx,) = bwd(np.ones_like(y), cache)
    assert y.dtype == np.float32 and dx.dtype == np.float32 and dx.shape == x.shape


def test_ceil_mode_drops_a_window_starting_in_the_right_padding():
    x = np.zeros((1, 1, 5, 5), np.float32)
    assert max_pool2d_forward(x, 2, 2, 1, ceil_mode=True)[0].shape == (1, 1, 3, 3)
    assert max_pool2d_forward(x, 2, 2, 0, ceil_mode=True)[0].shape == (1, 1, 3, 3)
    assert max_pool2d_forward(x, 2, 2, 0, ceil_mode=False)[0].shape == (1, 1, 2, 2)


# ------------------------------------------------------------------ ONNX forward references
def _onnx_pads(p):
    if isinstance(p, int):
        return [p] * 4
    return list(p) * 2 if len(p) == 2 else list(p)


def _pair(v):
    return [v, v] if isinstance(v, int) else list(v)


def _max_attrs(k, s, p, d, ceil):
    return dict(kernel_shape=_pair(k), strides=_pair(s if s is not None else k), pads=_onnx_pads(p),
                dilations=_pair(d), ceil_mode=int(ceil))


def _avg_attrs(k, s, p, ceil, cip):
    return dict(kernel_shape=_pair(k), strides=_pair(s if s is not None else k), pads=_onnx_pads(p),
                ceil_mode=int(ceil), count_include_pad=int(cip))


@pytest.mark.parametrize("shape,k,s,p,d,ceil", MAX_CASES)
def test_max_pool2d_matches_onnxruntime(shape, k, s, p, d, ceil, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y, _ = max_pool2d_forward(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y, run_node_ort("MaxPool", [x], **_max_attrs(k, s, p, d, ceil))[0])


@pytest.mark.parametrize("cip", [True, False])
@pytest.mark.parametrize("shape,k,s,p,ceil", AVG_CASES)
def test_avg_pool2d_matches_onnxruntime(shape, k, s, p, ceil, cip, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y, _ = avg_pool2d_forward(x, k, s, p, ceil, cip)
    np.testing.assert_allclose(y, run_node_ort("AveragePool", [x], **_avg_attrs(k, s, p, ceil, cip))[0], rtol=1e-6, atol=1e-6)


# cases inside what the onnx reference evaluator computes correctly
REF_MAX = [((2, 3, 6, 7), 3, 2, 1, 1, False), ((1, 2, 5, 6), (2, 3), (2, 1), (1, 0), 2, True),
           ((1, 2, 7, 5), 2, 1, 1, 1, False), ((1, 1, 6, 6), 3, 2, (0, 1, 1, 0), 1, True)]
REF_AVG = [((2, 3, 6, 7), 3, 2, 1, False), ((1, 2, 5, 6), (2, 3), (2, 1), (1, 0), True),
           ((1, 1, 6, 5), 3, 2, (1, 1, 0, 1), True), ((2, 2, 4, 4), 2, None, 0, False)]


@pytest.mark.parametrize("shape,k,s,p,d,ceil", REF_MAX)
def test_max_pool2d_matches_onnx_reference(shape, k, s, p, d, ceil, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y, _ = max_pool2d_forward(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y, run_node("MaxPool", [x], **_max_attrs(k, s, p, d, ceil))[0])


@pytest.mark.parametrize("cip", [True, False])
@pytest.mark.parametrize("shape,k,s,p,ceil", REF_AVG)
def test_avg_pool2d_matches_onnx_reference(shape, k, s, p, ceil, cip, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y, _ = avg_pool2d_forward(x, k, s, p, ceil, cip)
    ref = run_node("AveragePool", [x], **_avg_attrs(k, s, p, ceil, cip))[0]
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("fwd,op", [(global_avg_pool2d_forward, "GlobalAveragePool"),
                                    (global_max_pool2d_forward, "GlobalMaxPool")])
@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 4, 1, 1)])
def test_global_pools_match_onnx(fwd, op, shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    y, _ = fwd(x)
    np.testing.assert_allclose(y, run_node(op, [x])[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("hw,out", [((7, 5), (3, 2)), ((8, 8), (3, 5)), ((5, 6), (5, 6)), ((4, 6), (1, 1))])
def test_adaptive_avg_pool2d_matches_torch(hw, out, rng):
    import torch
    x = rng.standard_normal((2, 3, *hw)).astype(np.float32)
    y, _ = adaptive_avg_pool2d_forward(x, out)
    ref = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(x), out).numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("call,match", [
    (lambda x: max_pool2d_forward(x[0], 2), r"\(N, C, H, W\)"),
    (lambda x: max_pool2d_forward(x, 7), "does not fit"),
    (lambda x: avg_pool2d_forward(x, 2, padding=(1, 1, 1)), "padding"),
    (lambda x: max_pool2d_forward(x, 0), "kernel_size"),
    (lambda x: global_avg_pool2d_forward(x[0, 0]), r"\(N, C, \*spatial\)"),
    (lambda x: adaptive_avg_pool2d_forward(x[0], 2), r"\(N, C, H, W\)"),
])
def test_pool_rejects_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(np.zeros((1, 2, 5, 5), np.float32))


@pytest.mark.parametrize("shape, k, s, p, d, ceil", MAX_CASES)
def test_max_pool2d_keeps_a_channels_last_layout(shape, k, s, p, d, ceil, rng):
    """A (N, C, H, W) view of NHWC memory (what int8 convolutions return) pools to the same values, in
    NHWC memory too; the gradient is the C-order one."""
    x = rng.normal(size=shape).astype(np.float32)
    nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y, cache = max_pool2d_forward(nhwc, k, s, p, d, ceil)
    want, want_cache = max_pool2d_forward(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y, want)
    assert y.strides[1] == y.itemsize or shape[1] == 1
    dy = rng.normal(size=want.shape).astype(np.float32)
    np.testing.assert_array_equal(max_pool2d_backward(dy, cache)[0], max_pool2d_backward(dy, want_cache)[0])
