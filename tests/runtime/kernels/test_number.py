"""Number-level kernels: rounding/sign/mod gradients by finite differences, forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import number as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

ROUNDING = {"ceil": "Ceil", "floor": "Floor", "round": "Round", "sign": "Sign"}


def _off_integers(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Values at least 0.1 away from every integer (and from the halves round breaks ties at)."""
    x = np.random.default_rng(seed).uniform(-3, 3, shape)
    whole = np.floor(x)
    return whole + 0.15 + 0.3 * (x - whole) + 0.5 * (np.arange(x.size).reshape(shape) % 2)


@pytest.mark.parametrize("op", sorted(ROUNDING))
def test_rounding_backward_is_zero_as_finite_differences(op: str) -> None:
    check_kernel(getattr(K, f"{op}_forward"), getattr(K, f"{op}_backward"), [_off_integers((3, 4), 0)])


@pytest.mark.parametrize("op", sorted(ROUNDING))
def test_rounding_forward_matches_onnx(op: str) -> None:
    x = np.array([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 2.6, -2.6, 3.0], np.float32)
    y, _ = getattr(K, f"{op}_forward")(x)
    np.testing.assert_array_equal(y, run_node(ROUNDING[op], [x])[0])
    assert y.dtype == np.float32


@pytest.mark.parametrize("fmod", [False, True])
def test_mod_backward_matches_finite_differences(fmod: bool) -> None:
    rng = np.random.default_rng(1)
    a = rng.uniform(-5, 5, (3, 4))
    b = np.sign(rng.uniform(-1, 1, (4,))) * rng.uniform(0.7, 2, (4,))
    # keep a / b away from the integers where the remainder jumps
    a = b * (np.round(a / b) + 0.3 + 0.4 * rng.random((3, 4)))
    check_kernel(K.mod_forward, K.mod_backward, [a, b], {"fmod": fmod})


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32])
def test_mod_forward_matches_onnx(dtype) -> None:
    a = np.array([[-7, -4, 0, 4, 7], [9, -9, 5, -5, 1]]).astype(dtype)
    b = np.array([3, -3, 2, -2, 4]).astype(dtype)
    for fmod in ([0, 1] if dtype != np.float32 else [1]):
        y, _ = K.mod_forward(a, b, fmod=bool(fmod))
        np.testing.assert_array_equal(y, run_node("Mod", [a, b], fmod=fmod)[0])
        assert y.dtype == dtype


def test_mod_of_integers_has_no_gradient() -> None:
    _, cache = K.mod_forward(np.array([5, 7]), np.array([3, 3]))
    assert K.mod_backward(np.ones(2), cache) == (None, None)


def test_isinf_and_isnan() -> None:
    x = np.array([-np.inf, -1.0, np.nan, np.inf])
    np.testing.assert_array_equal(K.isnan(x), [False, False, True, False])
    np.testing.assert_array_equal(K.isinf(x), [True, False, False, True])
    np.testing.assert_array_equal(K.isinf(x, detect_negative=False), [False, False, False, True])
    np.testing.assert_array_equal(K.isinf(x, detect_positive=False), [True, False, False, False])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
def test_bit_shift_matches_onnx_including_shifts_past_the_width(dtype, direction: str) -> None:
    x = np.array([1, 5, 127, 3, 100]).astype(dtype)
    shift = np.array([0, 2, 7, np.dtype(dtype).itemsize * 8, 1]).astype(dtype)
    got = K.bit_shift(x, shift, direction)
    np.testing.assert_array_equal(got, run_node("BitShift", [x, shift], opset=11, direction=direction)[0])
    assert got.dtype == dtype


def test_signed_right_shift_is_arithmetic() -> None:
    x = np.array([-8, -1, 8, -128], np.int8)
    np.testing.assert_array_equal(K.bit_shift(x, np.array([1, 3, 9, 8], np.int8), "RIGHT"), [-4, -1, 0, -1])


@pytest.mark.parametrize("op", ["and", "or", "xor", "not"])
def test_bitwise_matches_onnx(op: str) -> None:
    rng = np.random.default_rng(2)
    a = rng.integers(-100, 100, (3, 4)).astype(np.int32)
    b = rng.integers(-100, 100, (4,)).astype(np.int32)
    args = [a] if op == "not" else [a, b]
    np.testing.assert_array_equal(K.bitwise(op, *args), run_node(f"Bitwise{op.capitalize()}", args)[0])


def test_bitwise_refuses_floats() -> None:
    with pytest.raises(ValueError, match="integer inputs only"):
        K.bitwise("and", np.ones(2), np.ones(2))


def test_bit_cast_matches_onnx_and_refuses_other_widths() -> None:
    x = np.array([[1.0, -2.5], [np.inf, 0.0]], np.float32)
    np.testing.assert_array_equal(K.bit_cast(x, "int32"), run_node("BitCast", [x], opset=26, to=6)[0])
    assert K.bit_cast(np.float32(1.0), "uint32").shape == ()
    with pytest.raises(ValueError, match="differ in width"):
        K.bit_cast(x, "int64")
