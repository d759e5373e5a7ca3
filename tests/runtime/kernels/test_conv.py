"""conv2d / conv1d kernels: finite-difference gradients and the ONNX Conv reference."""
import numpy as np
import pytest

from bigdl_runtime.kernels.conv_geometry import ConvGeometry
from bigdl_runtime.kernels.conv import conv1d_backward, conv1d_forward, conv2d_backward, conv2d_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

CONV2D_CASES = [  # x shape, w shape, stride, padding, dilation, groups, bias
    ((2, 3, 5, 6), (4, 3, 3, 2), 1, 0, 1, 1, True),             # non-square kernel
    ((1, 2, 6, 7), (3, 2, 3, 3), 2, 1, 1, 1, False),            # stride 2, symmetric pad
    ((2, 4, 7, 5), (6, 2, 3, 3), (2, 1), (1, 2), (1, 2), 2, True),  # groups, per-axis options
    ((1, 3, 6, 6), (3, 1, 3, 3), 1, (1, 0, 2, 1), 1, 3, True),  # depthwise, asymmetric pads
    ((1, 2, 7, 7), (4, 1, 2, 2), 3, 1, 2, 2, False),            # depthwise x2 multiplier, stride 3
    ((2, 3, 4, 5), (2, 3, 1, 1), 2, 0, 1, 1, True),             # 1x1 stride 2
    ((2, 3, 4, 5), (2, 3, 1, 1), 1, 0, 1, 1, False),            # 1x1: a plain GEMM
    ((1, 4, 3, 4), (6, 2, 1, 1), 1, (1, 0, 0, 1), 1, 2, True),  # grouped 1x1 with padding
    ((1, 2, 7, 3), (2, 2, 5, 1), 1, (2, 0), 1, 1, True),        # tall kernel
    ((1, 1, 2, 2), (2, 1, 3, 3), 1, 1, 1, 1, True),             # kernel larger than the input
    ((1, 2, 6, 6), (2, 2, 2, 2), 3, 0, 1, 1, False),            # rows and columns no tap reads
    ((1, 2, 3, 27), (2, 2, 2, 2), 1, (1, 0, 0, 1), 1, 1, True),  # wide: flat-run layout
    ((1, 1, 3, 52), (2, 1, 3, 3), 2, 1, 1, 1, True),            # wide, stride 2: flat polyphase layout
    ((1, 1, 2, 80), (2, 1, 2, 2), 1, (0, 1), (1, 3), 1, False),  # wide, dilated: flat layout
    ((2, 3, 5, 5), (3, 3, 3, 3), 1, 1, 1, 1, False),            # dx as a correlation of dy
    ((2, 4, 6, 5), (3, 4, 3, 3), 1, (2, 1, 0, 2), (2, 1), 1, True),  # ... dilated, asymmetric pads
    ((2, 3, 6, 7), (4, 3, 3, 3), 1, (1, 0, 0, 2), 1, 1, True),   # wrapped rows, uneven "same" width
    ((1, 4, 5, 6), (4, 2, 3, 3), 1, (0, 1, 2, 3), (1, 2), 2, False),  # ... dilated, groups
    ((1, 2, 4, 3), (3, 2, 2, 4), 1, (1, 3, 0, 0), 1, 1, True),   # ... all padding on one side
]


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of a few images even for tiny inputs, so the blocked paths run."""
    monkeypatch.setattr("bigdl_runtime.kernels.conv_geometry.BLOCK_BYTES", 16 << 10)
    monkeypatch.setattr("bigdl_runtime.kernels.conv_geometry.MIN_GEMM_COLUMNS", 1)
    monkeypatch.setattr("bigdl_runtime.kernels.conv_geometry.WEIGHT_REUSE", 0)


def _arrays(rng, x_shape, w_shape, bias, dtype=np.float64):
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,bias", CONV2D_CASES)
def test_conv2d_gradients(x_shape, w_shape, stride, padding, dilation, groups, bias, rng):
    config = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    check_kernel(conv2d_forward, conv2d_backward, list(_arrays(rng, x_shape, w_shape, bias)), config)


@pytest.mark.parametrize("x_shape,w_shape,padding,dilation,correlation", [
    ((2, 3, 5, 5), (3, 3, 3, 3), 1, 1, True),
    ((2, 4, 6, 5), (3, 4, 3, 3), (2, 1, 0, 2), (2, 1), True),
    ((2, 2, 7, 30), (2, 2, 3, 3), (0, 1), 1, True),         # flat layout
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1, False),              # more output than input channels: col2im
    ((2, 3, 5, 5), (3, 3, 3, 3), 3, 1, False),              # padding beyond the kernel: col2im
])
def test_input_gradient_as_correlation_equals_col2im(x_shape, w_shape, padding, dilation, correlation, rng,
                                                     monkeypatch):
    from bigdl_runtime.kernels import conv
    x, w, _ = _arrays(rng, x_shape, w_shape, False)
    y, cache = conv2d_forward(x, w, padding=padding, dilation=dilation)
    assert conv._dx_as_correlation(cache[3]) is correlation
    dy = rng.standard_normal(y.shape)
    dx, dw, _ = conv2d_backward(dy, cache)
    monkeypatch.setattr(conv, "_dx_as_correlation", lambda geo: False)
    dx_ref, dw_ref, _ = conv2d_backward(dy, cache)
    np.testing.assert_allclose(dx, dx_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(dw, dw_ref)


def _onnx_attrs(stride, padding, dilation, groups, ndim=2):
    def seq(v):
        return [v] * ndim if isinstance(v, int) else list(v)

    pads = seq(padding) * 2 if isinstance(padding, int) or len(padding) == ndim else list(padding)
    return dict(strides=seq(stride), pads=pads, dilations=seq(dilation), group=groups)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,bias", CONV2D_CASES)
def test_conv2d_matches_onnx_conv(x_shape, w_shape, stride, padding, dilation, groups, bias, rng):
    x, w, b = _arrays(rng, x_shape, w_shape, bias, np.float32)
    y, _ = conv2d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    (ref,) = run_node("Conv", [x, w, b], **_onnx_attrs(stride, padding, dilation, groups))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding", [
    ((4, 16, 9, 60), (24, 16, 3, 3), 1, 1),   # flat layout, several batch blocks
    ((3, 8, 13, 11), (16, 8, 5, 3), 2, (2, 1, 0, 2)),
    ((2, 6, 61, 10), (12, 6, 7, 7), 2, 3),
])
@pytest.mark.parametrize("path", ["numpy", "onednn"])
def test_conv2d_larger_shapes_match_onnx(x_shape, w_shape, stride, padding, path, rng, small_blocks, monkeypatch):
    from bigdl_runtime.kernels import onednn

    if path == "numpy":
        monkeypatch.setattr(onednn, "available", lambda: False)
    elif not onednn.available():
        pytest.skip("oneDNN (onednn-cpu-gomp) is not installed")
    x, w, b = _arrays(rng, x_shape, w_shape, True, np.float32)
    y, cache = conv2d_forward(x, w, b, stride=stride, padding=padding)
    assert cache[0] == path and len(cache[3].blocks(4)) > 1
    (ref,) = run_node("Conv", [x, w, b], **_onnx_attrs(stride, padding, 1, 1))
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)


def test_blocks_grow_with_a_large_weight():
    from bigdl_runtime.kernels.conv_geometry import ConvGeometry

    # ResNet-18's 512-channel layer at batch 32: im2col is 0.9 MB per image, the weight 9.4 MB,
    # so each of two workers gets one block of 16 images instead of 4-image blocks
    deep = ConvGeometry((32, 512, 7, 7), (512, 512, 3, 3), 1, 1, 1, 1)
    assert deep.blocks(4, 2) == [(0, 16), (16, 32)]
    # blocks are equal and come in a multiple of the workers (at most 5 images each here)
    mid = ConvGeometry((32, 256, 14, 14), (256, 256, 3, 3), 1, 1, 1, 1)
    assert [b - a for a, b in mid.blocks(4, 2)] == [4] * 8
    # a small weight keeps ~4 MB blocks and at least two per worker
    wide = ConvGeometry((32, 64, 56, 56), (64, 64, 3, 3), 1, 1, 1, 1)
    assert len(wide.blocks(4, 2)) == 32


def test_conv2d_blocked_backward_equals_unblocked(rng, request):
    x, w, b = _arrays(rng, (5, 4, 9, 30), (6, 4, 3, 3), True)
    dy = rng.standard_normal((5, 6, 9, 30))
    _, cache = conv2d_forward(x, w, b, padding=1)
    assert len(cache[3].blocks(8)) == 1
    whole = conv2d_backward(dy, cache)
    request.getfixturevalue("small_blocks")
    _, cache = conv2d_forward(x, w, b, padding=1)
    assert len(cache[3].blocks(8)) > 2
    for got, want in zip(conv2d_backward(dy, cache), whole):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_conv2d_geometry_picks_every_layout():
    assert ConvGeometry((1, 1, 56, 56), (1, 1, 3, 3), 1, 1, 1, 1).flat
    assert not ConvGeometry((1, 1, 7, 7), (1, 1, 3, 3), 1, 1, 1, 1).flat
    # GEMM convolutions ask for wrapped rows: stride 1 and "same" width (pl + pr = kernel extent)
    assert ConvGeometry((1, 1, 7, 7), (1, 1, 3, 3), 1, 1, 1, 1, wrap=True).wrapped
    assert ConvGeometry((1, 2, 7, 7), (2, 2, 3, 3), 1, (0, 1, 2, 3), (1, 2), 1, wrap=True).wrapped
    assert not ConvGeometry((1, 1, 7, 7), (1, 1, 3, 3), 2, 1, 1, 1, wrap=True).wrapped
    assert not ConvGeometry((1, 1, 7, 7), (1, 1, 3, 3), 1, 0, 1, 1, wrap=True).wrapped
    assert not ConvGeometry((1, 3, 7, 7), (3, 1, 3, 3), 1, 1, 1, 3, wrap=True).wrapped  # depthwise


def test_conv2d_keeps_float32(rng):
    x, w, b = _arrays(rng, (2, 4, 6, 6), (4, 2, 3, 3), True, np.float32)
    y, cache = conv2d_forward(x, w, b, padding=1, groups=2)
    grads = conv2d_backward(np.ones_like(y), cache)
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def test_conv2d_integer_input_computes_in_float32(rng):
    x = rng.integers(0, 255, (1, 2, 5, 5)).astype(np.uint8)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    y, _ = conv2d_forward(x, w)
    ref, _ = conv2d_forward(x.astype(np.float32), w)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, ref)


def test_conv2d_backward_gives_none_for_missing_bias(rng):
    x, w, _ = _arrays(rng, (1, 2, 4, 4), (3, 2, 3, 3), False)
    y, cache = conv2d_forward(x, w)
    assert conv2d_backward(np.ones_like(y), cache)[2] is None


@pytest.mark.parametrize("x_shape,w_shape,config,message", [
    ((1, 3, 5, 5), (4, 2, 3, 3), {}, "channels"),
    ((1, 4, 5, 5), (3, 2, 3, 3), {"groups": 2}, "channels"),
    ((1, 2, 2, 2), (1, 2, 3, 3), {}, "does not fit"),
    ((2, 5, 5), (1, 2, 3, 3), {}, r"\(N, C, H, W\)"),
    ((1, 2, 5, 5), (1, 2, 3, 3), {"padding": (1, 1, 1)}, "padding"),
    ((1, 2, 5, 5), (1, 2, 3, 3), {"stride": 0}, "stride"),
])
def test_conv2d_rejects_bad_shapes(x_shape, w_shape, config, message):
    with pytest.raises(ValueError, match=message):
        conv2d_forward(np.zeros(x_shape), np.zeros(w_shape), **config)


CONV1D_CASES = [  # x shape, w shape, stride, padding, dilation, groups, bias
    ((2, 3, 9), (4, 3, 3), 1, 0, 1, 1, True),
    ((1, 4, 11), (6, 2, 4), 2, (2, 1), 2, 2, False),
    ((2, 3, 7), (3, 1, 3), 1, 1, 1, 3, True),   # depthwise
    ((1, 2, 40), (3, 2, 2), 3, (0, 2), 1, 1, True),
    ((2, 1, 30), (5, 1, 8), 4, 0, 1, 1, True),   # an STFT-style frame bank: one input channel, long stride
    ((1, 3, 6), (2, 3, 3), 1, (2, 2), 2, 1, False),  # padding and dilation past the input's ends
]


def test_small_conv1d_runs_as_one_gemm_and_large_as_conv2d(rng):
    from bigdl_runtime.kernels.conv import CONV1D_FRAMES_MAX

    x, w, _ = _arrays(rng, (2, 3, 50), (4, 3, 5), False, np.float32)
    assert conv1d_forward(x, w)[1][0] == "frames"
    big = np.zeros((1, 64, CONV1D_FRAMES_MAX // 64), np.float32)
    assert conv1d_forward(big, np.zeros((2, 64, 3), np.float32))[1][0] == "conv2d"


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,bias", CONV1D_CASES)
def test_conv1d_gradients(x_shape, w_shape, stride, padding, dilation, groups, bias, rng):
    config = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    check_kernel(conv1d_forward, conv1d_backward, list(_arrays(rng, x_shape, w_shape, bias)), config)


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups,bias", CONV1D_CASES)
def test_conv1d_matches_onnx_conv(x_shape, w_shape, stride, padding, dilation, groups, bias, rng):
    x, w, b = _arrays(rng, x_shape, w_shape, bias, np.float32)
    y, _ = conv1d_forward(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    pads = [padding, padding] if isinstance(padding, int) else list(padding)
    (ref,) = run_node("Conv", [x, w, b], strides=[stride], pads=pads, dilations=[dilation], group=groups)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_conv1d_rejects_bad_rank():
    with pytest.raises(ValueError, match=r"\(N, C, L\)"):
        conv1d_forward(np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 3)))


@pytest.mark.parametrize("groups,k", [(1, 3), (4, 3), (2, 1)])  # GEMM, depthwise, pointwise paths
def test_conv2d_block_threads_match_sequential(groups, k, rng, monkeypatch, small_blocks):
    from bigdl_runtime.kernels import threads

    x, w, b = _arrays(rng, (7, 4, 9, 30), (8, 4 // groups, k, k), True)
    monkeypatch.setattr(threads, "block_threads", lambda: 1)
    y1, cache = conv2d_forward(x, w, b, stride=2, padding=1, groups=groups)
    dy = rng.standard_normal(y1.shape)
    want = conv2d_backward(dy, cache)
    monkeypatch.setattr(threads, "block_threads", lambda: 3)
    y3, cache = conv2d_forward(x, w, b, stride=2, padding=1, groups=groups)
    assert len(cache[3].blocks(8, 3)) > 3
    np.testing.assert_allclose(y3, y1, rtol=1e-12, atol=1e-12)
    for got, ref in zip(conv2d_backward(dy, cache), want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


def test_conv2d_restores_blas_threads(rng):
    from bigdl_runtime.kernels import threads

    if threads._blas.get is None:
        pytest.skip("numpy's OpenBLAS thread control not found")
    before = threads._blas.get()
    x, w, b = _arrays(rng, (8, 8, 12, 12), (8, 8, 3, 3), True, np.float32)
    y, cache = conv2d_forward(x, w, b, padding=1)
    conv2d_backward(y, cache)
    assert threads._blas.get() == before
