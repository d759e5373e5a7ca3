"""Linear quantisation in integer arithmetic, as onnxruntime computes it (ONNX QuantizeLinear, DequantizeLinear,
MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv).

``q = saturate(round_half_to_even(x / scale) + zero_point)`` and ``x = (q - zero_point) * scale``;
the division and the dequantising product are done in the scale's float type
(float32 for float32 scales, as onnxruntime). Integer products accumulate
exactly (int32 results, computed by float GEMMs and convolutions that are exact:
see :mod:`.integer_gemm`), and the QLinear ops requantise the int32 accumulator with
``round_half_to_even(acc * (a_scale * b_scale / y_scale)) + y_zero_point``.

Scales and zero points are per tensor (one value), per axis (a vector along
``axis``) or blocked (``block_size`` > 0: the same rank as ``x``, one value per
block of ``block_size`` elements along ``axis``).

The integer products run on oneDNN's int8 primitives (:mod:`.onednn_int8`, s32 accumulator) when the
operands fit them: uint8/int8 activations with a scalar zero point times 8-bit weights with one zero point
(a vector of equal ones included). oneDNN takes int8 weights only, so the weight goes in as ``w8 = w - zero_point - shift`` with
``shift = 0`` for int8 weights of zero point 0, ``-zero_point`` for other int8 ones and ``128 - zero_point``
for uint8 ones (``w - 128`` as int8: the top bit flipped, once per weight array), and ``shift`` times the sum of
the centred activations each output reads (a row sum; a convolution's window sums: the channels summed, then
a window view) is added back, in integers: exact. The requantisation stays here, in numpy, because oneDNN
rounds a product of two float scalings where onnxruntime rounds one. Other operands (per-channel weight zero
points, 16-bit types) take the numpy path, which is the reference the tests compare the oneDNN path with.

These functions have no gradient: their inputs or outputs are integers.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from . import onednn_int8
from .conv import conv2d_forward
from .conv_geometry import ConvGeometry
from .gemm import matmul
from .integer_gemm import exact_product

#: the integer types a quantised tensor may have, with their ranges
QUANTIZED_RANGES = {np.dtype(t): (np.iinfo(t).min, np.iinfo(t).max)
                    for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32)}


def _along(param: np.ndarray | None, shape: tuple[int, ...], axis: int, block_size: int) -> np.ndarray | None:
    """``param`` shaped to broadcast against a tensor of ``shape`` (per tensor, per axis or blocked)."""
    if param is None:
        return None
    param = np.asarray(param)
    if param.size == 1 and block_size == 0:
        return param.reshape(())
    axis %= len(shape)
    if block_size > 0:
        if param.ndim != len(shape):
            raise ValueError(f"blocked quantisation needs a parameter of rank {len(shape)}, got {param.shape}")
        return np.repeat(param, block_size, axis=axis).take(range(shape[axis]), axis=axis)
    if param.ndim != 1 or param.size != shape[axis]:
        raise ValueError(f"a per-axis parameter must be a vector of {shape[axis]} values (axis {axis}), "
                         f"got shape {param.shape}")
    view = [1] * len(shape)
    view[axis] = param.size
    return param.reshape(view)


def _saturate(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.dtype(dtype) not in QUANTIZED_RANGES:
        raise ValueError(f"quantised type must be one of {sorted(str(t) for t in QUANTIZED_RANGES)}, got {dtype}")
    low, high = QUANTIZED_RANGES[np.dtype(dtype)]
    return np.clip(values, low, high).astype(dtype)


def quantize_linear(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None, axis: int = 1,
                    block_size: int = 0, dtype: np.dtype | str | None = None) -> np.ndarray:
    """``saturate(rint(x / scale) + zero_point)`` in the zero point's type (else ``dtype``, default uint8)."""
    dtype = np.dtype(zero_point.dtype if zero_point is not None else (dtype or np.uint8))
    scale = np.asarray(scale)
    s = _along(scale, x.shape, axis, block_size)
    q = np.rint(np.asarray(x).astype(scale.dtype, copy=False) / s).astype(np.int64)
    if zero_point is not None:
        q += _along(zero_point, x.shape, axis, block_size).astype(np.int64)
    return _saturate(q, dtype)


def dequantize_linear(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None, axis: int = 1,
                      block_size: int = 0) -> np.ndarray:
    """``(q - zero_point) * scale`` in the scale's float type."""
    scale = np.asarray(scale)
    centred = np.asarray(q).astype(np.int64)
    if zero_point is not None:
        centred = centred - _along(zero_point, q.shape, axis, block_size).astype(np.int64)
    return (centred.astype(scale.dtype) * _along(scale, q.shape, axis, block_size)).astype(scale.dtype)


def _centred(x: np.ndarray, zero_point: np.ndarray | None, per_row_axis: int | None = None) -> tuple[np.ndarray, int]:
    """``x - zero_point`` as floats and its largest magnitude; a vector zero point applies along an axis.

    float32 for 8-bit types (their differences are exact there), float64 for wider ones.
    """
    x = np.asarray(x)
    dtype = np.float32 if x.dtype.itemsize == 1 else np.float64
    out = x.astype(dtype)
    zp = None if zero_point is None else np.asarray(zero_point).astype(np.int64)
    if zp is None or zp.size == 1:
        zero = 0 if zp is None else int(zp.reshape(-1)[0])
        if zero:
            out -= dtype(zero)
        return out, (max(abs(int(x.min()) - zero), abs(int(x.max()) - zero)) if x.size else 0)
    if per_row_axis is not None and zp.ndim == 1:
        view = [1] * out.ndim
        view[per_row_axis] = zp.size
        zp = zp.reshape(view)
    out -= zp.astype(dtype)
    return out, int(np.abs(out).max()) if out.size else 0


def _int32(exact: np.ndarray) -> np.ndarray:
    return np.rint(exact).astype(np.int64).astype(np.int32)


def _onednn_zero_point(x: np.ndarray, x_zero_point: np.ndarray | None) -> int | None:
    """x's zero point as an int when oneDNN's int8 primitives can take x, else None."""
    if np.asarray(x).dtype not in (np.uint8, np.int8) or (x_zero_point is not None and np.size(x_zero_point) != 1):
        return None
    return 0 if x_zero_point is None else int(np.asarray(x_zero_point).reshape(()))


#: uint8 weights seen as int8 (``w - 128``), by id of the weight array (kept alive with its copy)
_SHIFTED: dict[int, tuple[np.ndarray, np.ndarray]] = {}
#: most weight arrays whose int8 copies are kept
SHIFTED_KEPT = 64


def _int8_weight(w: np.ndarray, w_zero_point: np.ndarray | None) -> tuple[np.ndarray, int] | None:
    """``(w8, shift)``, int8 ``w8`` with ``w - w_zero_point == w8 + shift`` (see the module docstring), or None
    when the weight does not fit oneDNN's int8 primitives (not 8-bit, or zero points that differ per channel)."""
    w = np.asarray(w)
    zeros = np.zeros(1, np.int64) if w_zero_point is None else np.asarray(w_zero_point).reshape(-1)
    if w.dtype not in (np.uint8, np.int8) or zeros.size == 0 or np.any(zeros != zeros[0]):
        return None
    zero = int(zeros[0])
    if w.dtype == np.int8:
        return w, -zero
    if id(w) not in _SHIFTED:
        if len(_SHIFTED) >= SHIFTED_KEPT:
            _SHIFTED.clear()
        _SHIFTED[id(w)] = (w, np.bitwise_xor(w, np.uint8(128)).view(np.int8))
    return _SHIFTED[id(w)][1], 128 - zero


def matmul_integer(a: np.ndarray, b: np.ndarray, a_zero_point: np.ndarray | None = None,
                   b_zero_point: np.ndarray | None = None) -> np.ndarray:
    """``(a - a_zero_point) @ (b - b_zero_point)`` in int32 (a vector zero point: per row of a, per column of b)."""
    zp = _onednn_zero_point(a, a_zero_point)
    signed = _int8_weight(b, b_zero_point) if zp is not None and np.ndim(a) >= 2 and np.ndim(b) == 2 else None
    if signed is not None:
        a = np.asarray(a)
        rows = np.ascontiguousarray(a.reshape(-1, a.shape[-1]))
        try:
            acc = onednn_int8.matmul_int8(rows, signed[0], x_zero_point=zp, y_dtype=np.int32)
        except onednn_int8.Unsupported:
            pass
        else:
            if signed[1]:  # in place in int32, which wraps: exact whenever the result fits, as it does
                sums = rows.sum(axis=1, dtype=np.int64) - rows.shape[1] * zp
                acc += (signed[1] * sums).astype(np.int32)[:, None]
            return acc.reshape(*a.shape[:-1], acc.shape[-1])
    a_c, a_bound = _centred(a, a_zero_point, -2 if np.ndim(a) >= 2 else None)
    b_c, b_bound = _centred(b, b_zero_point, -1)

    def product(part: np.ndarray, lo: int, hi: int) -> np.ndarray:
        rows = b_c[lo:hi] if b_c.ndim == 1 else b_c[..., lo:hi, :]
        return matmul(part[..., lo:hi], rows.astype(part.dtype, copy=False))

    return _int32(exact_product(a_c, a_bound, b_bound, a_c.shape[-1], 1, product))


def _window_sums(x: np.ndarray, zero_point: int, geo: ConvGeometry) -> np.ndarray:
    """``(N, groups, Ho, Wo)`` int32: the sum of ``x - zero_point`` over each output's window and its group's
    channels (padding adds 0 after the zero point is taken off): the channels summed first, then a window view."""
    n, groups, height, width = geo.n, geo.groups, geo.h, geo.w
    pt, pl, pb, pr = geo.pads
    padded = np.zeros((n, groups, height + pt + pb, width + pl + pr), np.int32)
    channels = x.reshape(n, groups, geo.cg, height, width).sum(axis=2, dtype=np.int32)
    padded[:, :, pt:pt + height, pl:pl + width] = channels - geo.cg * zero_point
    s0, s1, s2, s3 = padded.strides
    windows = np.lib.stride_tricks.as_strided(
        padded, (n, groups, geo.ho, geo.wo, geo.kh, geo.kw),
        (s0, s1, geo.sh * s2, geo.sw * s3, geo.dh * s2, geo.dw * s3), writeable=False)
    return windows.sum(axis=(4, 5), dtype=np.int32)


def conv_integer(x: np.ndarray, w: np.ndarray, x_zero_point: np.ndarray | None = None,
                 w_zero_point: np.ndarray | None = None, stride: Sequence[int] = (1, 1),
                 padding: Sequence[int] = (0, 0, 0, 0), dilation: Sequence[int] = (1, 1),
                 groups: int = 1) -> np.ndarray:
    """The int32 2-D convolution (NCHW, ONNX begin/end pads) of ``x - x_zero_point`` by ``w - w_zero_point``.

    Padding adds zeros after the zero point is taken off (as padding with the zero point).
    A vector ``w_zero_point`` is per output channel.
    """
    zp = _onednn_zero_point(x, x_zero_point)
    signed = _int8_weight(w, w_zero_point) if zp is not None and np.ndim(x) == 4 and np.ndim(w) == 4 else None
    if signed is not None:
        x = np.asarray(x)
        geo = ConvGeometry(x.shape, np.shape(w), tuple(stride), tuple(padding), tuple(dilation), groups)
        try:
            acc = np.ascontiguousarray(onednn_int8.conv2d_int8(x, signed[0], geo, x_zero_point=zp, y_dtype=np.int32))
            if signed[1]:  # + shift * the sum of the centred inputs each output reads (per group), in place
                n, out, height, width = acc.shape  # (int32 wraps: exact whenever the result fits, as it does)
                shifted = (np.int32(signed[1]) * _window_sums(x, zp, geo)).reshape(n, groups, 1, height, width)
                acc.reshape(n, groups, out // groups, height, width)[...] += shifted
            return acc
        except onednn_int8.Unsupported:
            pass
    x_c, x_bound = _centred(x, x_zero_point)
    w_c, w_bound = _centred(w, w_zero_point, 0)
    n, channels, height, width = x_c.shape
    per_group = w_c.shape[1]

    def conv(part: np.ndarray, lo: int, hi: int) -> np.ndarray:
        if (lo, hi) != (0, per_group):  # input channels lo:hi of every group
            part = part.reshape(n, groups, per_group, height, width)[:, :, lo:hi].reshape(n, -1, height, width)
        return conv2d_forward(part, w_c[:, lo:hi].astype(part.dtype), None, stride=tuple(stride),
                              padding=tuple(padding), dilation=tuple(dilation), groups=groups)[0]

    return _int32(exact_product(x_c, x_bound, w_bound, per_group, int(np.prod(w_c.shape[2:])), conv))


def requantize(acc: np.ndarray, multiplier: np.ndarray, zero_point: np.ndarray | None,
               dtype: np.dtype) -> np.ndarray:
    """``saturate(rint(acc * multiplier) + zero_point)``: an int32 accumulator back to a quantised type."""
    scaled = np.rint(acc * multiplier)
    if zero_point is not None:
        scaled = scaled + np.asarray(zero_point)
    return _saturate(scaled, dtype)

