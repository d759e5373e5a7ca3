"""Trigonometric and hyperbolic kernels: finite-difference gradients (float64), forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import trig as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

# op -> (ONNX op, input maker on uniform(-1, 1) values, inside each function's domain)
OPS = {
    "sin": ("Sin", lambda u: 3 * u), "cos": ("Cos", lambda u: 3 * u), "tan": ("Tan", lambda u: 1.2 * u),
    "asin": ("Asin", lambda u: 0.9 * u), "acos": ("Acos", lambda u: 0.9 * u), "atan": ("Atan", lambda u: 4 * u),
    "sinh": ("Sinh", lambda u: 2 * u), "cosh": ("Cosh", lambda u: 2 * u), "asinh": ("Asinh", lambda u: 4 * u),
    "acosh": ("Acosh", lambda u: 1.1 + 3 * np.abs(u)), "atanh": ("Atanh", lambda u: 0.9 * u),
}


def _input(op: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    return OPS[op][1](np.random.default_rng(seed).uniform(-1, 1, shape))


@pytest.mark.parametrize("op", sorted(OPS))
def test_backward_matches_finite_differences(op: str) -> None:
    check_kernel(getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward"), [_input(op, (2, 3, 4), 0)])


@pytest.mark.parametrize("op", sorted(OPS))
def test_forward_matches_onnx_and_keeps_float32(op: str) -> None:
    x = _input(op, (3, 5), 1).astype(np.float32)
    y, cache = getattr(K, f"{op}_forward")(x)
    np.testing.assert_allclose(y, run_node(OPS[op][0], [x])[0], rtol=1e-6, atol=1e-7)
    assert y.dtype == np.float32
    assert getattr(K, f"{op}_backward")(np.ones_like(y), cache)[0].dtype == np.float32
