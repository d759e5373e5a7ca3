"""Pad kernel: constant/reflect/edge, ONNX pad order, negative pads (crop)."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels.pad import pad_backward, pad_forward
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

CASES = [
    ((3, 4), [1, 2, 0, 3], "constant", 0.0),
    ((3, 4), [0, 1, 2, 0], "constant", 1.5),
    ((1, 2, 3, 4), [0, 0, 1, 1, 0, 0, 1, 2], "constant", 0.0),
    ((3, 4), [2, 1, 1, 3], "reflect", 0.0),
    ((2, 3, 5), [0, 2, 1, 1, 1, 3], "reflect", 0.0),
    ((3, 4), [2, 0, 1, 3], "edge", 0.0),
    ((2, 3), [0, 4, 1, 5], "edge", 0.0),
]


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("shape, pads, mode, value", CASES)
def test_backward_matches_finite_differences(shape, pads, mode, value):
    check_kernel(pad_forward, pad_backward, [_x(shape)], {"pads": pads, "mode": mode, "value": value})


@pytest.mark.parametrize("shape, pads, mode, value", CASES)
def test_forward_matches_onnx(shape, pads, mode, value):
    x = _x(shape).astype(np.float32)
    y, cache = pad_forward(x, pads, mode, value)
    fill = [np.array(value, np.float32)] if mode == "constant" else []
    (expected,) = run_node("Pad", [x, np.array(pads, np.int64), *fill], mode=mode)
    np.testing.assert_array_equal(y, expected)
    assert y.dtype == np.float32 and pad_backward(np.ones_like(y), cache)[0].dtype == np.float32


@pytest.mark.parametrize("mode, expected", [
    ("constant", [[1, 2], [4, 5], [0, 0]]),
    ("reflect", [[1, 2], [4, 5], [1, 2]]),
    ("edge", [[1, 2], [4, 5], [4, 5]]),
])
def test_negative_pads_crop(mode, expected):
    x = np.arange(6.0).reshape(2, 3)
    y, _ = pad_forward(x, [0, -1, 1, 0], mode)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
def test_negative_pads_backward(mode):
    check_kernel(pad_forward, pad_backward, [_x((4, 5))], {"pads": [-1, 2, 1, -2], "mode": mode})


@pytest.mark.parametrize("pads, mode, message", [
    ([1, 1], "constant", "needs 4 pads, got 2"),
    ([0, 0, 0, 0], "wrap", "mode must be one of"),
    ([0, 1, 0, 1], "reflect", "at least 2 elements"),
])
def test_bad_arguments_raise_value_error(pads, mode, message):
    with pytest.raises(ValueError, match=message):
        pad_forward(np.zeros((3, 1)), pads, mode)
