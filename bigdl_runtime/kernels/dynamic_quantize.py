"""Dynamic quantisation as onnxruntime computes it: DynamicQuantizeLinear's parameters and the dynamically
quantised products of its DynamicQuantizeMatMul and DynamicQuantizeLSTM kernels.

A float tensor gets the uint8 scale and zero point of its range (widened to hold 0):
``scale = (max - min) / 255`` (1 when the range is empty) and
``zero_point = round_half_to_even(-min / scale)``, in float32 arithmetic. A product then
quantises its float operand that way, multiplies the integers exactly and scales the int32 result back:
``float32(acc) * (a_scale * w_scale)``. The integers are multiplied by oneDNN's int8 matrix product
(uint8 x int8 -> int32: an :class:`.onednn_matmul.Int8MatmulPlan` per weight and row count, kept with the
weight) when the weight is int8 with zero point 0 (what onnxruntime's quantiser writes for LSTMs), else as
float32 products that are exact (:mod:`.integer_gemm`).
The int8 product reads a quarter of the float32 weight's bytes: a batch-1 LSTM step's (1, 512) x (512, 2048)
product is bound by them.
No gradient: the products are integer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .gemm import matmul
from .integer_gemm import exact_product
from .onednn_matmul import Int8MatmulPlan, Unsupported


def dynamic_quantize_parameters(x: np.ndarray) -> tuple[np.float32, np.uint8]:
    """The uint8 ``(scale, zero_point)`` onnxruntime picks for ``x`` (an all-zero ``x``: scale 1, zero point 0)."""
    x = np.asarray(x, np.float32).reshape(-1)  # (ufunc reductions and scalar clamps: a quantised LSTM runs this per step)
    zero32 = np.float32(0)
    low = min(np.minimum.reduce(x), zero32) if x.size else zero32
    high = max(np.maximum.reduce(x), zero32) if x.size else zero32
    scale = np.float32(1) if high == low else np.float32((high - low) / np.float32(255))
    zero = np.rint(min(max(zero32 - low / scale, zero32), np.float32(255)))
    return scale, np.uint8(zero)


@dataclass(frozen=True)
class QuantizedWeight:
    """The (K, M) integer weight of a dynamically quantised product, prepared once (as onnxruntime prepacks it).

    Attributes:
        centred: ``w - zero_point`` as float32 (exact: the values are 8-bit integers).
        scale: ``()`` per tensor or ``(M,)`` per output column, float32.
        bound: the largest ``|w - zero_point|``.
        signed: the int8 weight itself when its zero point is 0 (oneDNN's int8 product takes it), else None.
        plans: the int8 products of ``signed`` compiled so far, by row count (None: oneDNN said no).
    """

    centred: np.ndarray
    scale: np.ndarray
    bound: int
    signed: np.ndarray | None = None
    plans: dict[int, Int8MatmulPlan | None] = field(default_factory=dict, compare=False, repr=False)


def quantized_weight(w: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | int = 0) -> QuantizedWeight:
    """Prepare a (K, M) int8/uint8 weight with one zero point and a per-tensor or per-column float32 scale."""
    w = np.asarray(w)
    if w.ndim != 2 or w.dtype not in (np.dtype(np.int8), np.dtype(np.uint8)):
        raise ValueError(f"a quantised weight must be a 2-D int8 or uint8 matrix, got {w.dtype} {w.shape}")
    scale = np.asarray(scale, np.float32)
    if scale.size not in (1, w.shape[1]):
        raise ValueError(f"the weight scale must be one value or one per column ({w.shape[1]}), got {scale.shape}")
    zero = int(np.asarray(zero_point).astype(np.int32))
    centred = w.astype(np.float32)
    if zero:
        centred -= np.float32(zero)
    bound = max(abs(int(w.min()) - zero), abs(int(w.max()) - zero)) if w.size else 0
    signed = w if w.dtype == np.int8 and zero == 0 else None
    return QuantizedWeight(centred, scale.reshape(()) if scale.size == 1 else scale.reshape(-1), bound, signed)


def dynamic_quantized_matmul(a: np.ndarray, weight: QuantizedWeight) -> np.ndarray:
    """``float32(acc) * (a_scale * w_scale)`` with ``acc = (q(a) - a_zero) @ (w - w_zero)`` exact in integers.

    ``a`` (rows, K) float32 is quantised to uint8 as a whole with :func:`dynamic_quantize_parameters`
    (onnxruntime's dynamically quantised GEMM).
    """
    a = np.asarray(a, np.float32)
    scale, zero = dynamic_quantize_parameters(a)
    centred = np.rint(a / scale)  # float32, then saturated into uint8 around the zero point
    np.maximum(centred, np.float32(-float(zero)), out=centred)
    np.minimum(centred, np.float32(255.0 - float(zero)), out=centred)
    plan = _plan(weight, a.shape[0]) if weight.signed is not None and a.ndim == 2 else None
    if plan is not None:
        centred += np.float32(zero)
        return plan.run(centred, int(zero)).astype(np.float32) * (scale * weight.scale)
    k = weight.centred.shape[0]
    acc = exact_product(centred, max(int(zero), 255 - int(zero)), weight.bound, k, 1,
                        lambda part, lo, hi: matmul(part[:, lo:hi], weight.centred[lo:hi].astype(part.dtype,
                                                                                            copy=False)))
    return acc.astype(np.float32, copy=False) * (scale * weight.scale)


def _plan(weight: QuantizedWeight, rows: int) -> Int8MatmulPlan | None:
    """The weight's int8 product for ``rows`` rows (compiled on first use), or None: the float32 path."""
    plan = weight.plans.get(rows, False)
    if plan is False or (plan is not None and not plan.valid()):
        try:
            plan = Int8MatmulPlan(rows, weight.signed)
        except Unsupported:
            plan = None
        weight.plans[rows] = plan
    return plan


def dynamic_quantize_linear(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ONNX DynamicQuantizeLinear as onnxruntime computes it: ``(q uint8, scale float32, zero_point uint8)``."""
    x = np.asarray(x, np.float32)
    scale, zero = dynamic_quantize_parameters(x)
    q = np.rint(x / scale)
    q += np.float32(zero)
    np.clip(q, 0, 255, out=q)
    return q.astype(np.uint8), np.asarray(scale, np.float32), np.asarray(zero, np.uint8)
