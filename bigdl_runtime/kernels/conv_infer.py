"""Inference entry points of the convolutions: small problems as one window view and one GEMM.

A convolution with few output values (a streaming model's frame: a 4-pixel output, a
256-tap STFT over one window) costs far more in per-call set-up on the general paths
(:mod:`.conv`'s geometry of planes and taps, oneDNN's memories and weight reorder) than in
arithmetic. Below :data:`DIRECT_MAX_COLUMNS` im2col values, :func:`direct_plan` works out once
(per input shape) how to copy the windows out of the zero-padded input through one strided
view, and its function then does one (batched) GEMM per group: a few numpy calls whatever the
kernel size; a product of few output positions but many multiply-adds (one group, float32) runs on oneDNN
instead (:data:`ONEDNN_MAX_POSITIONS`, :data:`ONEDNN_MIN_MACS`), its window matrix copied straight into the
plan's buffer. Larger
problems stay on :func:`~.conv.conv2d_forward`. Only outputs are computed (no cache), for inference
(the convolution layers' ``infer``).
"""
from __future__ import annotations

import numpy as np

from .conv_geometry import IntPair, pads4, pair
from .elementwise import typed
from .onednn_matmul import MatmulPlan, Unsupported
from .threads import single_threaded_blas

#: largest im2col size (values: N * Ho * Wo * C * kh * kw) computed by the direct path (one thread,
#: float32: 3-8x faster than the general paths at 1-2K values, on par at 64-100K, slower beyond)
DIRECT_MAX_COLUMNS = 1 << 16
#: the same for 1x1 stride-1 convolutions, whose columns need no copy (measured: 1.9x faster than
#: oneDNN at 77K values, on par at 47K-100K, 1.6x slower at 200K)
POINTWISE_MAX_COLUMNS = 1 << 17
#: output positions (N * Ho * Wo) up to which a float32 convolution of one group runs its product on oneDNN
#: (:class:`~.onednn_matmul.MatmulPlan`): a product of so few columns is a GEMM shape OpenBLAS runs slowly
#: (a streaming VAD's (128, 387) x (387, 3): 13-21 us in OpenBLAS, 7 us in oneDNN)
ONEDNN_MAX_POSITIONS = 64
#: ... and from this many multiply-adds: below, the plan's fixed cost (its lock, two copies in, one out) is more
#: than OpenBLAS loses on the shape (numpy 2-3 us faster on each of the 6-12K-MAC convolutions of a streaming VAD,
#: and at 74-99K MACs; on par at 49K; oneDNN 1.5x faster at 147-198K)
ONEDNN_MIN_MACS = 1 << 17
#: OpenBLAS shares a GEMM of more multiply-adds than this between its threads; the direct path's
#: GEMMs are small enough to run faster on one (and a loaded machine stalls the shared ones)
OPENBLAS_THREADED_MACS = 1 << 18


def apply_relu(y: np.ndarray, relu: bool | float) -> np.ndarray:
    """``y`` with max(., 0) applied in place (clipped at ``relu`` when it is a number; nothing when False)."""
    if relu is True:
        np.maximum(y, typed(0, y.dtype), out=y)
    elif relu is not False:
        np.clip(y, typed(0, y.dtype), typed(relu, y.dtype), out=y)
    return y


def direct_plan(x_shape: tuple[int, ...], w_shape: tuple[int, ...], x_dtype: np.dtype, w_dtype: np.dtype,
                stride: IntPair, padding: IntPair, dilation: IntPair, groups: int) -> "DirectConv | None":
    """The :class:`DirectConv` of an ``x_shape`` input (NCHW) and ``w_shape`` weight, or None when the
    problem is not small (or not valid: the general path then reports the error)."""
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
    return DirectConv(x_shape, w_shape, np.dtype(x_dtype), (sh, sw), (pt, pl, pb, pr), (dh, dw), groups, (ho, wo))


class DirectConv:
    """``conv(x, w, b) -> y`` for one input shape: everything but the arithmetic worked out when it is
    made (by :func:`direct_plan`), so a caller may keep it per shape; a plain object (it pickles)."""

    def __init__(self, x_shape: tuple[int, ...], w_shape: tuple[int, ...], dtype: np.dtype,
                 stride: tuple[int, int], pads: tuple[int, int, int, int], dilation: tuple[int, int], groups: int,
                 out_size: tuple[int, int]) -> None:
        n, c, h, wd = x_shape
        o, cg, kh, kw = w_shape
        (sh, sw), (pt, pl, pb, pr), (dh, dw), (ho, wo) = stride, pads, dilation, out_size
        self.dtype = dtype
        self.pad = bool(pt or pl or pb or pr)
        self.padded = (n, c, h + pt + pb, wd + pl + pr)
        self.inner = (slice(None), slice(None), slice(pt, pt + h), slice(pl, pl + wd))
        item = dtype.itemsize
        s3, s2 = item, item * self.padded[3]
        s1, s0 = s2 * self.padded[2], s2 * self.padded[2] * c
        self.view = ((n, groups, cg, kh, kw, ho, wo), (s0, cg * s1, s1, dh * s2, dw * s3, sh * s2, sw * s3))
        self.cols_shape = (n, groups, cg * kh * kw, ho * wo)
        self.w_mat = (groups, o // groups, cg * kh * kw)
        self.y_shape = (n, o, ho, wo)
        self.one_thread = n * ho * wo * c * kh * kw * (o // groups) > OPENBLAS_THREADED_MACS
        #: the oneDNN product of few output positions (made on first use; None: not tried, False: numpy)
        self.matmul: _Product | bool | None = None if (groups == 1 and dtype == np.float32
                                                       and n * ho * wo <= ONEDNN_MAX_POSITIONS
                                                       and n * ho * wo * c * kh * kw * o >= ONEDNN_MIN_MACS) else False

    def __getstate__(self) -> dict:
        """Pickles leave the oneDNN plan behind (library handles of this process)."""
        return {**self.__dict__, "matmul": None if self.matmul is not False else False}

    def __call__(self, x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
        product = (self._product() if self.matmul is not False and w.dtype == self.dtype and w.flags.c_contiguous
                   else None)
        if product is not None:
            y = product(x, w)
            if b is not None:
                y += b.reshape(-1, 1, 1)
            return y
        if self.pad:
            xp = np.zeros(self.padded, dtype=self.dtype)
            xp[self.inner] = x
        else:
            xp = np.ascontiguousarray(x)
        cols = np.ndarray(self.view[0], dtype=self.dtype, buffer=xp, strides=self.view[1]).reshape(self.cols_shape)
        if self.one_thread:
            with single_threaded_blas():
                y = np.matmul(w.reshape(self.w_mat), cols).reshape(self.y_shape)
        else:
            y = np.matmul(w.reshape(self.w_mat), cols).reshape(self.y_shape)
        if b is not None:
            y += b.reshape(-1, 1, 1)
        return y

    def _product(self) -> "_Product | None":
        """The oneDNN product of this geometry, made on first use (None: oneDNN is missing or said no)."""
        if self.matmul is None or (self.matmul is not False and not self.matmul.plan.valid()):
            try:
                self.matmul = _Product(self)
            except Unsupported:
                self.matmul = False
        return self.matmul or None


class _Product:
    """A :class:`DirectConv`'s product on oneDNN (:class:`~.onednn_matmul.MatmulPlan`): a zero-padded copy of the
    input kept between calls (its border stays zero), the view of its windows as the product's rows, and the
    view of the product in NCHW order, all made once; a call copies the input in, the windows into the plan's
    rows and the product out (under the plan's lock)."""

    def __init__(self, conv: DirectConv) -> None:
        n, o, ho, wo = conv.y_shape
        self.plan = MatmulPlan(n * ho * wo, conv.w_mat[2], o)
        self.padded = np.zeros(conv.padded, conv.dtype)
        self.inner = self.padded[conv.inner]
        window = np.ndarray(conv.view[0], dtype=conv.dtype, buffer=self.padded, strides=conv.view[1])
        self.windows = window[:, 0].transpose(0, 4, 5, 1, 2, 3)  # (n, ho, wo, c, kh, kw)
        self.rows = self.plan.a.reshape(self.windows.shape)
        self.nchw = self.plan.y.reshape(n, ho * wo, o).transpose(0, 2, 1)
        self.y_shape = conv.y_shape

    def __call__(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        def fill(_: np.ndarray) -> None:
            np.copyto(self.inner, x)
            np.copyto(self.rows, self.windows)

        base = w.base  # a conv1d passes a 4-D view of its weight per call: the array itself has one identity
        weight = base if isinstance(base, np.ndarray) and base.size == w.size and base.flags.c_contiguous else w
        return self.plan.run(fill, weight, self._read).reshape(self.y_shape)

    def _read(self, _: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(self.nchw)
