"""Exact integer products (matrix products, convolutions) computed by float kernels.

A product of integers whose every partial sum stays below ``2**24`` in magnitude is exact in
float32, whatever order BLAS or oneDNN sums in (each partial sum is an integer float32 holds):
``k * max|a| * max|b| < 2**24`` for ``k`` products per output. Quantised 8-bit operands
(``|a - zero_point| <= 255``, ``|w| <= 128``) meet that up to ``k = 514``. A longer inner
dimension is cut into chunks that each meet it: their float32 products are exact and are
summed in float64 (exact too), so the work stays that of one float32 product. Operands too
wide for even one inner index (16-bit types) run in float64 (exact below ``2**53``). float32
GEMMs and convolutions run about twice as fast as float64 ones, and convolutions on oneDNN.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: float32 holds every integer of smaller magnitude
FLOAT32_EXACT = 1 << 24


def exact_product(a: np.ndarray, a_bound: int, b_bound: int, inner: int, unit: int,
                  product: Callable[[np.ndarray, int, int], np.ndarray]) -> np.ndarray:
    """An integer-valued ``a`` times the other operand, exactly: float32 values from one product, or float64.

    Args:
        a: integer values (any integer or float dtype) with ``|a| <= a_bound``.
        a_bound, b_bound: the largest magnitudes of ``a`` and of the other operand.
        inner: the length of the contracted axis in the units the product is cut along (K of a matrix
            product; the input channels per group of a convolution).
        unit: products summed into one output per index of that axis (1; ``kh * kw`` of a convolution).
        product: ``product(a_float, lo, hi)``, the product over inner indices ``lo:hi`` only, computed in the
            dtype of ``a_float`` (``a`` as float32 or float64) with the other operand cast to it.
    """
    per_index = unit * max(a_bound, 1) * max(b_bound, 1)
    if inner * per_index < FLOAT32_EXACT:
        return product(np.asarray(a, np.float32), 0, inner)
    if per_index >= FLOAT32_EXACT:
        return product(np.asarray(a, np.float64), 0, inner)
    step = (FLOAT32_EXACT - 1) // per_index
    a32 = np.asarray(a, np.float32)
    out = product(a32, 0, step).astype(np.float64)
    for lo in range(step, inner, step):
        out += product(a32, lo, min(lo + step, inner))
    return out
