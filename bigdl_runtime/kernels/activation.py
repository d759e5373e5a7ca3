"""Activation kernels: pointwise nonlinearities, softmax and log-softmax.

Every pair keeps the input dtype (constants are Python floats, so float32 stays
float32). Pointwise ops compute only ``y`` in their forward (inference runs no
backward), in as few passes over the data as they can, and cache what the backward
needs to form the local derivative ``dy/dx`` (``x``, or ``y`` where that is enough). ``sigmoid``, ``softplus``, ``softmax`` and ``log_softmax`` never
exponentiate a positive number, so they do not overflow at ``|x| = 1000``.
Returned arrays may share memory with the inputs; treat them as read-only.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .elementwise import out_for, typed

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_GELU_TANH_K = math.sqrt(2.0 / math.pi)
_GELU_TANH_C = 0.044715
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _scaled(dy: np.ndarray, derivative: np.ndarray) -> tuple[np.ndarray]:
    return (dy * derivative,)


# ---------------------------------------------------------------------- erf
# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969), coefficients of his CALERF routine: three ranges of |x|.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERF_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERF_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)
_ERF_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERF_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)
_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)
#: erfc(8) < 1e-28: beyond it erf is exactly +-1 in float64, so the tail is evaluated at min(|x|, 8).
_ERF_TAIL_CLIP = 8.0


def _exp_neg_square(y: np.ndarray) -> np.ndarray:
    """exp(-y*y); in float64 without the rounding error of squaring y (Cody's split of y into
    y16 + rest). float32 needs no split: erfc's relative error stays below its rounding."""
    if y.dtype == np.float32:
        return np.exp(-(y * y))
    y16 = np.trunc(y * 16.0) / 16.0
    return np.exp(-y16 * y16) * np.exp(-(y - y16) * (y + y16))


def _erf_small(y: np.ndarray) -> np.ndarray:
    """erf(y) for |y| <= 0.5."""
    ysq = y * y
    num, den = _ERF_A[4] * ysq, ysq.copy()
    for a, b in zip(_ERF_A[:3], _ERF_B[:3]):
        num += a
        num *= ysq
        den += b
        den *= ysq
    num += _ERF_A[3]
    den += _ERF_B[3]
    num *= y
    num /= den
    return num


def _erfc_mid(y: np.ndarray) -> np.ndarray:
    """erfc(y) for 0.5 < y <= 4."""
    num, den = _ERF_C[8] * y, y.copy()
    for c, d in zip(_ERF_C[:7], _ERF_D[:7]):
        num += c
        num *= y
        den += d
        den *= y
    num += _ERF_C[7]
    den += _ERF_D[7]
    num /= den
    num *= _exp_neg_square(y)
    return num


def _erfc_tail(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 4."""
    ysq = 1.0 / (y * y)
    num, den = _ERF_P[5] * ysq, ysq.copy()
    for p, q in zip(_ERF_P[:4], _ERF_Q[:4]):
        num += p
        num *= ysq
        den += q
        den *= ysq
    num += _ERF_P[4]
    den += _ERF_Q[4]
    num /= den
    num *= ysq  # the ratio
    np.subtract(_INV_SQRT_PI, num, out=num)
    num *= _exp_neg_square(y)
    num /= y
    return num


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, elementwise, in the dtype of ``x`` (about 1e-16 relative error in float64).

    numpy has no erf; this is Cody's rational approximation. In float32 (the training
    dtype) both ranges' formulas run on the whole array with ``|x|`` clipped into their
    range and are combined with 0/1 masks (``a * 1 + b * 0`` is exactly ``a``), in place:
    the per-range boolean gathers and scatters cost twice as much; beyond 4 float32 erf
    rounds to 1, the middle formula's value at 4. Other dtypes evaluate each range on the
    elements that fall in it.
    """
    x = np.asarray(x)
    y = np.abs(x)
    if y.dtype == np.float32:
        small = (y <= 0.5).astype(np.float32)
        out = _erf_small(np.minimum(y, np.float32(0.5)))
        out *= small
        mid = _erfc_mid(np.clip(y, np.float32(0.5), np.float32(4.0)))
        np.subtract(1.0, mid, out=mid)
        np.subtract(1.0, small, out=small)
        mid *= small
        out += mid
        return np.copysign(out, x)
    out = np.empty_like(y)
    small = y <= 0.5
    mid = (y > 0.5) & (y <= 4.0)
    tail = ~(small | mid)  # includes nan, which propagates
    out[small] = _erf_small(y[small])
    out[mid] = 1.0 - _erfc_mid(y[mid])
    out[tail] = 1.0 - _erfc_tail(np.minimum(y[tail], _ERF_TAIL_CLIP))
    return np.copysign(out, x)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# ---------------------------------------------------------------- pointwise
def relu_forward(x: np.ndarray, keep_mask: bool = True) -> tuple[np.ndarray, Any]:
    """max(x, 0) (NaN propagates, as torch and ONNX Relu).

    The cache is the boolean mask ``x > 0``, or with ``keep_mask=False`` (inference, where a
    backward pass is unlikely) the output itself, from which the backward takes ``y > 0``:
    one streaming pass instead of two. ``np.where(mask, x, 0)`` measured ten times slower
    than both passes together on ResNet-18's activations. (Splitting them over two threads
    measured slower: one thread already saturates memory bandwidth.)
    """
    y = np.maximum(x, typed(0, x.dtype))
    return y, (x > 0 if keep_mask else y)


def relu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _scaled(dy, cache if cache.dtype == bool else cache > 0)


def leaky_relu_forward(x: np.ndarray, negative_slope: float = 0.01) -> tuple[np.ndarray, Any]:
    """x where x > 0, else negative_slope * x (two passes: ``max(x, slope * x)`` for a slope in [0, 1])."""
    scaled = x * negative_slope
    if 0.0 <= negative_slope <= 1.0:
        y = np.maximum(x, scaled, out=scaled)
    elif negative_slope > 1.0:
        y = np.minimum(x, scaled, out=scaled)
    else:
        y = np.where(x > 0, x, scaled)
    return y, (x, negative_slope)


def leaky_relu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x, slope = cache
    return (np.where(x > 0, dy, dy * slope),)


def leaky_relu_infer(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """:func:`leaky_relu_forward`'s output without its derivative: two passes, no mask."""
    y = np.multiply(x, x.dtype.type(negative_slope) if x.dtype.kind == "f" else negative_slope)
    return np.maximum(x, y, out=y) if 0 <= negative_slope <= 1 else np.where(x > 0, x, y)


def _channel_view(slope: np.ndarray, x: np.ndarray) -> np.ndarray:
    if slope.size == 1:
        return slope.reshape(())
    if x.ndim < 2 or x.shape[1] != slope.size:
        raise ValueError(f"prelu: {slope.size} slopes need input (N, {slope.size}, ...), got {x.shape}")
    return slope.reshape((1, slope.size) + (1,) * (x.ndim - 2))


def prelu_forward(x: np.ndarray, slope: np.ndarray) -> tuple[np.ndarray, Any]:
    """x where x > 0, else slope * x; ``slope`` has one value or one per channel (axis 1)."""
    s = _channel_view(slope, x)
    positive = x > 0
    y = np.where(positive, x, s * x)
    return y, (x, positive, s, slope.shape)


def prelu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray]:
    x, positive, s, slope_shape = cache
    dx = np.where(positive, dy, s * dy)
    dneg = np.where(positive, 0, dy * x)
    axes = tuple(i for i in range(x.ndim) if i != 1 or s.ndim == 0)
    return dx, dneg.sum(axis=axes).reshape(slope_shape)


def _elu(x: np.ndarray, alpha: float, scale: float) -> tuple[np.ndarray, Any]:
    negative = alpha * np.expm1(np.minimum(x, 0))
    y = np.where(x > 0, x, negative)
    if scale != 1.0:
        y *= scale
    return y, (x, y, alpha, scale)


def _elu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x, y, alpha, scale = cache  # below 0: d/dx scale * alpha * (e^x - 1) = y + scale * alpha
    return (dy * np.where(x > 0, scale, y + scale * alpha),)


def elu_forward(x: np.ndarray, alpha: float = 1.0) -> tuple[np.ndarray, Any]:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _elu(x, alpha, 1.0)


def elu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _elu_backward(dy, cache)


def selu_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """scale * elu(x, alpha) with the self-normalising constants of Klambauer et al."""
    return _elu(x, _SELU_ALPHA, _SELU_SCALE)


def selu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return _elu_backward(dy, cache)


def gelu_forward(x: np.ndarray, approximate: str = "none") -> tuple[np.ndarray, Any]:
    """x * Phi(x) (``approximate="none"``, exact via erf) or its tanh approximation (``"tanh"``)."""
    if approximate == "none":
        cdf = erf(x * _INV_SQRT2)
        cdf += 1.0
        cdf *= 0.5
        return x * cdf, (x, approximate, cdf)
    if approximate == "tanh":
        t = x * x
        t *= _GELU_TANH_C * x
        t += x
        t *= _GELU_TANH_K
        np.tanh(t, out=t)
        half = t + 1.0
        half *= 0.5
        return x * half, (x, approximate, t)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def gelu_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x, approximate, kept = cache
    if approximate == "none":  # kept: Phi(x)
        return (dy * (kept + x * np.exp(-0.5 * x * x) * _INV_SQRT_2PI),)
    t = kept  # tanh(k (x + c x^3))
    derivative = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_TANH_K * (1.0 + 3.0 * _GELU_TANH_C * x * x)
    return (dy * derivative,)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """1 / (1 + exp(-x)), computed without overflow."""
    y = _sigmoid(x)
    return y, y


def sigmoid_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy * cache * (1.0 - cache),)


def _exp_neg(x: np.ndarray) -> np.ndarray:
    """exp(-x) in a new array (inf where it overflows: the callers' 1 / (1 + inf) is the exact limit 0)."""
    e = np.negative(x)
    with np.errstate(over="ignore"):
        return np.exp(e, out=out_for(e))


def sigmoid_infer(x: np.ndarray) -> np.ndarray:
    """:func:`sigmoid_forward`'s output as 1 / (1 + exp(-x)) in place: four passes instead of nine.
    float16 goes through the forward (its exp overflows at 11, far from where sigmoid is 0)."""
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        return _sigmoid(x)
    d = _exp_neg(x)
    d = np.add(d, typed(1, d.dtype), out=out_for(d))
    return np.reciprocal(d, out=out_for(d))


def silu_infer(x: np.ndarray) -> np.ndarray:
    """``x * sigmoid(x)`` (SiLU, Swish) as x / (1 + exp(-x)): four passes (the fused Sigmoid -> Mul of
    an inference plan; see :mod:`bigdl_runtime.nn.fusion`)."""
    if x.dtype.kind != "f" or x.dtype.itemsize < 4:
        return x * _sigmoid(x)
    d = _exp_neg(x)
    d = np.add(d, typed(1, d.dtype), out=out_for(d))
    return np.divide(x, d, out=out_for(d))


def tanh_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    y = np.tanh(x)
    return y, y


def tanh_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    return (dy * (1.0 - cache * cache),)


def hard_sigmoid_forward(x: np.ndarray, alpha: float = 1.0 / 6.0, beta: float = 0.5) -> tuple[np.ndarray, Any]:
    """clip(alpha * x + beta, 0, 1).

    The defaults are PyTorch's Hardsigmoid (1/6, 1/2); ONNX HardSigmoid defaults
    to alpha=0.2, beta=0.5, so pass those explicitly for ONNX models.
    """
    y = x * alpha
    y += beta
    np.clip(y, 0, 1, out=y)
    return y, (x, alpha, beta)


def hard_sigmoid_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x, alpha, beta = cache
    z = alpha * x + beta
    return (dy * (((z > 0) & (z < 1)) * np.asarray(alpha, dtype=dy.dtype)),)


def hard_sigmoid_infer(x: np.ndarray, alpha: float = 1.0 / 6.0, beta: float = 0.5) -> np.ndarray:
    """:func:`hard_sigmoid_forward`'s output without its derivative, in place on one new array."""
    z = alpha * x + beta
    return np.clip(z, 0, 1, out=z) if isinstance(z, np.ndarray) else np.clip(z, 0, 1)


def hard_swish_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """x * clip(x / 6 + 1/2, 0, 1) (PyTorch Hardswish, ONNX HardSwish), in four passes."""
    y = x * (1.0 / 6.0)
    y += 0.5
    np.clip(y, 0, 1, out=y)
    y *= x
    return y, x


def hard_swish_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x = cache
    derivative = np.where(x < -3, 0, np.where(x > 3, 1, x / 3.0 + 0.5)).astype(dy.dtype)
    return (dy * derivative,)


def hard_swish_infer(x: np.ndarray) -> np.ndarray:
    """:func:`hard_swish_forward`'s output without its derivative: x * clip(x / 6 + 1/2, 0, 1) in place
    on one new array (four passes instead of ten)."""
    z = x / 6.0 + 0.5
    if not isinstance(z, np.ndarray):
        return x * np.clip(z, 0, 1)
    np.clip(z, 0, 1, out=z)
    return np.multiply(x, z, out=z) if z.dtype == np.result_type(x, z) else x * z


def softplus_forward(x: np.ndarray, beta: float = 1.0, threshold: float = 20.0) -> tuple[np.ndarray, Any]:
    """log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""
    bx = beta * x
    smooth = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, smooth), (bx, threshold)


def softplus_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    bx, threshold = cache
    return (dy * np.where(bx > threshold, 1, _sigmoid(bx)),)


# -------------------------------------------------------------- normalising
def softmax_forward(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, Any]:
    """exp(x) / sum(exp(x)) along ``axis`` (shifted by the max, so it never overflows)."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    y = e / e.sum(axis=axis, keepdims=True)
    return y, (y, axis)


def softmax_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    y, axis = cache
    return (y * (dy - (dy * y).sum(axis=axis, keepdims=True)),)


def log_softmax_forward(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, Any]:
    """x - logsumexp(x) along ``axis``."""
    z = x - x.max(axis=axis, keepdims=True)
    y = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    return y, (y, axis)


def log_softmax_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    y, axis = cache
    return (dy - np.exp(y) * dy.sum(axis=axis, keepdims=True),)
