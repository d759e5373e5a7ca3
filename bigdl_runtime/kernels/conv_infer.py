"""Inference entry points of the convolutions: small problems as one window view and one GEMM.

A convolution with few output values (a streaming model's frame: a 4-pixel output, a
256-tap STFT over one window) costs far more in per-call set-up on the general paths
(:mod:`.conv`'s geometry of planes and taps, oneDNN's memories and weight reorder) than in
arithmetic. Below :data:`DIRECT_MAX_COLUMNS` im2col values, :func:`direct_plan` works out once
(per input shape) how to copy the windows out of the zero-padded input through one strided
view, and its function then does one (batched) GEMM per group: a few numpy calls whatever the
kernel size. Larger problems stay on :func:`~.conv.conv2d_forward`. Only outputs are
computed (no cache), for inference (the convolution layers' ``infer``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .conv_geometry import IntPair, pads4, pair
from .threads import single_threaded_blas

#: largest im2col size (values: N * Ho * Wo * C * kh * kw) computed by the direct path (one thread,
#: float32: 3-8x faster than the general paths at 1-2K values, on par at 64-100K, slower beyond)
DIRECT_MAX_COLUMNS = 1 << 16
#: the same for 1x1 stride-1 convolutions, whose columns need no copy (measured: 1.9x faster than
#: oneDNN at 77K values, on par at 47K-100K, 1.6x slower at 200K)
POINTWISE_MAX_COLUMNS = 1 << 17
#: OpenBLAS shares a GEMM of more multiply-adds than this between its threads; the direct path's
#: GEMMs are small enough to run faster on one (and a loaded machine stalls the shared ones)
OPENBLAS_THREADED_MACS = 1 << 18


Direct = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], np.ndarray]


def apply_relu(y: np.ndarray, relu: bool | float) -> np.ndarray:
    """``y`` with max(., 0) applied in place (clipped at ``relu`` when it is a number; nothing when False)."""
    if relu is True:
        np.maximum(y, y.dtype.type(0), out=y)
    elif relu is not False:
        np.clip(y, y.dtype.type(0), y.dtype.type(relu), out=y)
    return y


def direct_plan(x_shape: tuple[int, ...], w_shape: tuple[int, ...], x_dtype: np.dtype, w_dtype: np.dtype,
                stride: IntPair, padding: IntPair, dilation: IntPair, groups: int) -> Direct | None:
    """``run(x, w, b) -> y`` computing the convolution of an ``x_shape`` input (NCHW) by one window view
    and one GEMM, or None when the problem is not small (or not valid: the general path then reports
    the error). Everything but the arithmetic is worked out here, so a caller may keep it per shape."""
    if len(x_shape) != 4 or len(w_shape) != 4 or x_dtype != w_dtype:
        return None
    n, c, h, wd = x_shape
    o, cg, kh, kw = w_shape
    (sh, sw), (dh, dw) = pair(stride, "stride"), pair(dilation, "dilation")
    pt, pl, pb, pr = pads4(padding)
    groups = int(groups)
    if groups < 1 or cg * groups != c or o % groups or min(sh, sw, dh, dw) < 1:
        return None
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    pointwise = kh == kw == sh == sw == 1 and not (pt or pl or pb or pr)  # its columns are the input itself
    if ho < 1 or wo < 1 or n * ho * wo * c * kh * kw > (POINTWISE_MAX_COLUMNS if pointwise else DIRECT_MAX_COLUMNS):
        return None
    padded = (n, c, h + pt + pb, wd + pl + pr)
    inner = (slice(None), slice(None), slice(pt, pt + h), slice(pl, pl + wd))
    item = np.dtype(x_dtype).itemsize
    s3, s2, s1, s0 = item, item * padded[3], item * padded[3] * padded[2], item * padded[3] * padded[2] * c
    view = ((n, groups, cg, kh, kw, ho, wo), (s0, cg * s1, s1, dh * s2, dw * s3, sh * s2, sw * s3))
    cols_shape, w_mat, y_shape = (n, groups, cg * kh * kw, ho * wo), (groups, o // groups, cg * kh * kw), (n, o, ho, wo)
    pad = pt or pl or pb or pr
    one_thread = n * ho * wo * c * kh * kw * (o // groups) > OPENBLAS_THREADED_MACS

    def run(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        if pad:
            xp = np.zeros(padded, dtype=x_dtype)
            xp[inner] = x
        else:
            xp = np.ascontiguousarray(x)
        cols = np.ndarray(view[0], dtype=x_dtype, buffer=xp, strides=view[1]).reshape(cols_shape)
        if one_thread:
            with single_threaded_blas():
                y = np.matmul(w.reshape(w_mat), cols).reshape(y_shape)
        else:
            y = np.matmul(w.reshape(w_mat), cols).reshape(y_shape)
        if b is not None:
            y += b.reshape(-1, 1, 1)
        return y
    return run
