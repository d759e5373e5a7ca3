"""Inference entry points of the convolutions: small problems as one window view and one GEMM.

A convolution with few output values (a streaming model's frame: a 4-pixel output, a
256-tap STFT over one window) costs far more in per-call set-up on the general paths
(:mod:`.conv`'s geometry of planes and taps, oneDNN's memories and weight reorder) than in
arithmetic. Below :data:`DIRECT_MAX_COLUMNS` im2col values, :func:`conv2d_infer` copies the
windows out of the zero-padded input through one strided view and does one (batched) GEMM
per group: a few numpy calls whatever the kernel size. Larger problems go to
:func:`~.conv.conv2d_forward`. Only outputs are computed (no cache), for inference.
"""
from __future__ import annotations

import numpy as np

from .conv import conv1d_forward, conv2d_forward
from .conv_geometry import IntPair, as_float, pads4, pair

#: largest im2col size (values: N * Ho * Wo * C * kh * kw) computed by the direct path (one thread,
#: float32: 3-8x faster than the general paths at 1-2K values, on par at 64-100K, slower beyond)
DIRECT_MAX_COLUMNS = 1 << 16


def conv2d_infer(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: IntPair = 1,
                 padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1,
                 relu: bool | float = False) -> np.ndarray:
    """:func:`~.conv.conv2d_forward`'s output (same arguments), without its cache."""
    x = as_float(x)
    w = np.asarray(w)
    if x.ndim == 4 and w.ndim == 4 and x.dtype == w.dtype:
        y = _direct(x, w, b, pair(stride, "stride"), pads4(padding), pair(dilation, "dilation"), int(groups))
        if y is not None:
            if relu is True:
                np.maximum(y, y.dtype.type(0), out=y)
            elif relu is not False:
                np.clip(y, y.dtype.type(0), y.dtype.type(relu), out=y)
            return y
    return conv2d_forward(x, w, b, stride, padding, dilation, groups, relu)[0]


def conv1d_infer(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: IntPair = 1,
                 padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1) -> np.ndarray:
    """:func:`~.conv.conv1d_forward`'s output (same arguments), without its cache."""
    x, w = np.asarray(x), np.asarray(w)
    if x.ndim != 3 or w.ndim != 3:
        return conv1d_forward(x, w, b, stride, padding, dilation, groups)[0]
    left, right = pair(padding, "conv1d padding (left, right)")
    s = stride if isinstance(stride, (int, np.integer)) else tuple(stride)[0]
    d = dilation if isinstance(dilation, (int, np.integer)) else tuple(dilation)[0]
    y = conv2d_infer(x[:, :, None, :], w[:, :, None, :], b, (1, int(s)), (0, left, 0, right), (1, int(d)), groups)
    return y[:, :, 0, :]


def _direct(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: tuple[int, int],
            pads: tuple[int, int, int, int], dilation: tuple[int, int], groups: int) -> np.ndarray | None:
    """The convolution by one window view and one GEMM, or None when it is not small (or not valid:
    the general path then reports the error)."""
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw), (pt, pl, pb, pr) = stride, dilation, pads
    if groups < 1 or cg * groups != c or o % groups or min(sh, sw, dh, dw) < 1:
        return None
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1 or n * ho * wo * c * kh * kw > DIRECT_MAX_COLUMNS:
        return None
    if pt or pl or pb or pr:
        xp = np.zeros((n, c, h + pt + pb, wd + pl + pr), dtype=x.dtype)
        xp[:, :, pt:pt + h, pl:pl + wd] = x
    else:
        xp = np.ascontiguousarray(x)
    s0, s1, s2, s3 = xp.strides
    windows = np.ndarray((n, groups, cg, kh, kw, ho, wo), dtype=xp.dtype, buffer=xp,
                         strides=(s0, cg * s1, s1, dh * s2, dw * s3, sh * s2, sw * s3))
    cols = windows.reshape(n, groups, cg * kh * kw, ho * wo)
    y = np.matmul(w.reshape(groups, o // groups, cg * kh * kw), cols).reshape(n, o, ho, wo)
    if b is not None:
        y += np.asarray(b, dtype=y.dtype).reshape(-1, 1, 1)
    return y

