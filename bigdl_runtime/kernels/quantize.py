"""Linear quantisation in integer arithmetic, as onnxruntime computes it (ONNX QuantizeLinear, DequantizeLinear,
MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv) and dynamic quantisation (DynamicQuantizeLinear and the
products of onnxruntime's DynamicQuantizeMatMul / DynamicQuantizeLSTM).

``q = saturate(round_half_to_even(x / scale) + zero_point)`` and ``x = (q - zero_point) * scale``;
the division and the dequantising product are done in the scale's float type
(float32 for float32 scales, as onnxruntime). Integer products accumulate
exactly (int32 results; the GEMMs run on float64 BLAS, exact while sums stay
below 2**53), and the QLinear ops requantise the int32 accumulator with
``round_half_to_even(acc * (a_scale * b_scale / y_scale)) + y_zero_point``.

Scales and zero points are per tensor (one value), per axis (a vector along
``axis``) or blocked (``block_size`` > 0: the same rank as ``x``, one value per
block of ``block_size`` elements along ``axis``).

Dynamic quantisation picks a tensor's uint8 scale and zero point from its range (widened to hold 0):
``scale = (max - min) / 255`` (1 when the range is empty) and ``zero_point = round_half_to_even(-min / scale)``.

These functions have no gradient: their inputs or outputs are integers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .conv import conv2d_forward

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


def _centred(x: np.ndarray, zero_point: np.ndarray | None, per_row_axis: int | None = None) -> np.ndarray:
    """``x - zero_point`` as float64 (exact for 8/16-bit integers); a vector zero point applies along an axis."""
    out = np.asarray(x).astype(np.float64)
    if zero_point is None:
        return out
    zp = np.asarray(zero_point).astype(np.float64)
    if zp.ndim == 1 and zp.size > 1 and per_row_axis is not None:
        view = [1] * out.ndim
        view[per_row_axis] = zp.size
        zp = zp.reshape(view)
    return out - zp


def _int32(exact: np.ndarray) -> np.ndarray:
    return np.rint(exact).astype(np.int64).astype(np.int32)


def matmul_integer(a: np.ndarray, b: np.ndarray, a_zero_point: np.ndarray | None = None,
                   b_zero_point: np.ndarray | None = None) -> np.ndarray:
    """``(a - a_zero_point) @ (b - b_zero_point)`` in int32 (a vector zero point: per row of a, per column of b)."""
    return _int32(np.matmul(_centred(a, a_zero_point, -2 if np.ndim(a) >= 2 else None),
                            _centred(b, b_zero_point, -1)))


def conv_integer(x: np.ndarray, w: np.ndarray, x_zero_point: np.ndarray | None = None,
                 w_zero_point: np.ndarray | None = None, stride: Sequence[int] = (1, 1),
                 padding: Sequence[int] = (0, 0, 0, 0), dilation: Sequence[int] = (1, 1),
                 groups: int = 1) -> np.ndarray:
    """The int32 2-D convolution (NCHW, ONNX begin/end pads) of ``x - x_zero_point`` by ``w - w_zero_point``.

    Padding adds zeros after the zero point is taken off (as padding with the zero point).
    A vector ``w_zero_point`` is per output channel.
    """
    y, _ = conv2d_forward(_centred(x, x_zero_point), _centred(w, w_zero_point, 0), None, stride=tuple(stride),
                          padding=tuple(padding), dilation=tuple(dilation), groups=groups)
    return _int32(y)


def requantize(acc: np.ndarray, multiplier: np.ndarray, zero_point: np.ndarray | None,
               dtype: np.dtype) -> np.ndarray:
    """``saturate(rint(acc * multiplier) + zero_point)``: an int32 accumulator back to a quantised type."""
    scaled = np.rint(acc * multiplier)
    if zero_point is not None:
        scaled = scaled + np.asarray(zero_point)
    return _saturate(scaled, dtype)


def dynamic_quantize_parameters(x: np.ndarray) -> tuple[np.float32, np.uint8]:
    """The uint8 ``(scale, zero_point)`` onnxruntime picks for ``x`` (float32 arithmetic, as its kernels).

    The range ``[min(x, 0), max(x, 0)]`` maps onto 0..255; an all-zero ``x`` gets scale 1 and zero point 0.
    """
    x = np.asarray(x, np.float32)
    low = min(np.float32(x.min()) if x.size else np.float32(0), np.float32(0))
    high = max(np.float32(x.max()) if x.size else np.float32(0), np.float32(0))
    scale = np.float32(1) if high == low else np.float32((high - low) / np.float32(255))
    zero = np.rint(np.clip(np.float32(0) - low / scale, 0, 255))
    return scale, np.uint8(zero)


#: the largest integer below which every float32 integer is exact
_FLOAT32_EXACT = 2 ** 24


@dataclass(frozen=True)
class QuantizedWeight:
    """The (K, M) integer weight of a dynamically quantised product, prepared once (as onnxruntime prepacks).

    Attributes:
        centred: ``w - zero_point`` as floats: float32 when every product sum the weight can take part in
            stays exact there (see :func:`dynamic_quantized_matmul`), else float64.
        scale: ``()`` per tensor or ``(M,)`` per output column, float32.
        bound: the largest ``|w - zero_point|``.
    """

    centred: np.ndarray
    scale: np.ndarray
    bound: int


def quantized_weight(w: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | int = 0) -> QuantizedWeight:
    """Prepare a (K, M) int8/uint8 weight with one zero point and a per-tensor or per-column float32 scale."""
    w = np.asarray(w)
    if w.ndim != 2 or w.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        raise ValueError(f"a quantised weight must be a 2-D int8 or uint8 matrix, got {w.dtype} {w.shape}")
    scale = np.asarray(scale, np.float32)
    if scale.size not in (1, w.shape[1]):
        raise ValueError(f"the weight scale must be one value or one per column ({w.shape[1]}), got {scale.shape}")
    centred = w.astype(np.int32) - np.int32(zero_point)
    bound = int(np.abs(centred).max()) if centred.size else 0
    # an activation's centred uint8 values reach 255 at most
    exact32 = w.shape[0] * 255 * bound < _FLOAT32_EXACT
    return QuantizedWeight(centred.astype(np.float32 if exact32 else np.float64),
                           scale.reshape(()) if scale.size == 1 else scale.reshape(-1), bound)


def dynamic_quantized_matmul(a: np.ndarray, weight: QuantizedWeight) -> np.ndarray:
    """``float32(acc) * (a_scale * w_scale)`` with ``acc = (q(a) - a_zero) @ (w - w_zero)`` exact in integers.

    ``a`` (rows, K) float32 is quantised to uint8 as a whole with :func:`dynamic_quantize_parameters`
    (onnxruntime's dynamically quantised GEMM). The integer product runs as a float GEMM that is exact:
    float32 when ``K * 255 * weight.bound < 2**24`` (every partial sum is then an integer float32 holds),
    else float64.
    """
    a = np.asarray(a, np.float32)
    scale, zero = dynamic_quantize_parameters(a)
    centred = np.rint(a / scale)  # float32, then saturated into uint8 around the zero point
    np.clip(centred, -float(zero), 255.0 - float(zero), out=centred)
    acc = centred.astype(weight.centred.dtype, copy=False) @ weight.centred
    return acc.astype(np.float32, copy=False) * (scale * weight.scale)
