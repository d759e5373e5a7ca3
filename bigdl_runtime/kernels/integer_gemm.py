"""Exact integer products (matrix products, convolutions) computed by float kernels.

A product of integers whose every partial sum stays below ``2**24`` in magnitude is exact in
float32, whatever order BLAS or oneDNN sums in (each partial sum is an integer float32 holds):
``k * max|a| * max|b| < 2**24`` for ``k`` products per output. Quantised 8-bit operands
(``|a - zero_point| <= 255``, ``|w| <= 128``) meet that up to ``k = 514``; beyond it ``a`` is split
into 4-bit halves ``a = 16 * high + low`` (``|high| <= 16``, ``0 <= low < 16``), two exact float32
products recombined in float64, up to ``k = 8191``; beyond that the product runs in float64
(exact below ``2**53``). float32 GEMMs and convolutions run about twice as fast as float64 ones
and convolutions on oneDNN, so the split costs less than one float64 product.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: float32 holds every integer of smaller magnitude
FLOAT32_EXACT = 1 << 24
_HALF = 16


def exact_product(a: np.ndarray, a_bound: int, b_bound: int, k: int,
                  product: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``product(a)`` for an integer-valued ``a``, exact: float32 (one or two products) or float64 values.

    Args:
        a: integer values (any integer or float dtype) with ``|a| <= a_bound``.
        a_bound, b_bound: the largest magnitudes of ``a`` and of the other operand.
        k: how many products are summed into one output (the inner dimension; ``C * kh * kw`` of a convolution).
        product: the map, linear in ``a``, with the other operand bound in: takes a float32 or float64 array
            shaped like ``a`` and computes in that dtype.

    Returns:
        The exact result, float32 when one float32 product does, else float64.
    """
    if k * a_bound * b_bound < FLOAT32_EXACT:
        return product(np.asarray(a, np.float32))
    if k * max(-(-a_bound // _HALF), _HALF - 1) * b_bound < FLOAT32_EXACT:
        low = np.mod(a, _HALF)
        high = (np.asarray(a) - low) // _HALF
        out = product(high.astype(np.float32)).astype(np.float64)
        out *= _HALF
        out += product(low.astype(np.float32))
        return out
    return product(np.asarray(a, np.float64))
