"""Padding layers: Pad (ONNX layout, all modes) and ZeroPad2d (PyTorch layout)."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.pad import Pad, ZeroPad2d
from tests.helpers.gradcheck import check_module

CASES = [  # (layer factory, input shape, output shape)
    (lambda: Pad([0, 0, 1, 2, 0, 0, 0, 1]), (1, 2, 3, 3), (1, 2, 4, 6)),
    (lambda: Pad([0, 1, 1, 0, 2, 1], mode="reflect"), (2, 3, 4), (2, 6, 6)),
    (lambda: Pad([1, 0, 0, 3], mode="edge"), (2, 3), (3, 6)),
    (lambda: Pad([0, -1, 1, 1], value=2.5), (2, 3), (3, 3)),
    (lambda: ZeroPad2d(1), (1, 2, 3, 3), (1, 2, 5, 5)),
    (lambda: ZeroPad2d([1, 2, 0, 1]), (2, 3, 2), (2, 4, 5)),
]


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("make, shape, out_shape", CASES)
def test_output_shape_and_gradients(make, shape, out_shape):
    m = make()
    assert m(_x(shape)).shape == out_shape
    check_module(m, [_x(shape)])


@pytest.mark.parametrize("make, shape, out_shape", CASES)
def test_config_rebuilds_the_same_layer(make, shape, out_shape):
    m = make()
    rebuilt = type(m)(**m.get_config())
    assert rebuilt.get_config() == m.get_config()
    x = _x(shape).astype(np.float32)
    np.testing.assert_array_equal(rebuilt(x), m(x))
    assert m(x).dtype == np.float32


def test_constant_pad_fills_the_value():
    y = Pad([1, 0, 0, 1], value=-3.0)(np.ones((1, 2), np.float32))
    np.testing.assert_array_equal(y, [[-3, -3, -3], [1, 1, -3]])


@pytest.mark.parametrize("padding", [2, [1, 2, 0, 3], [-1, 0, 2, -1]])
def test_zero_pad_2d_matches_torch(padding):
    import torch
    x = _x((1, 2, 3, 4)).astype(np.float32)
    expected = torch.nn.ZeroPad2d(padding if isinstance(padding, int) else tuple(padding))(torch.tensor(x))
    np.testing.assert_array_equal(ZeroPad2d(padding)(x), expected.numpy())


@pytest.mark.parametrize("make, x, message", [
    (lambda: Pad([1, 1], name="p"), np.zeros((2, 3)), r"Pad\('p'\): pad: a 2-D input \(2, 3\) needs 4 pads, got 2"),
    (lambda: ZeroPad2d(1), np.zeros((2, 3)), r"ZeroPad2d: expected \(N, C, H, W\) or \(C, H, W\), got \(2, 3\)"),
])
def test_bad_input_names_the_layer(make, x, message):
    with pytest.raises(ValueError, match=message):
        make()(x)


def test_bad_construction_is_rejected():
    with pytest.raises(ValueError, match="mode must be"):
        Pad([0, 0], mode="wrap")
    with pytest.raises(ValueError, match="padding needs 4 values"):
        ZeroPad2d([1, 2])


@pytest.mark.parametrize("make", [lambda: Pad([0, 0]), lambda: ZeroPad2d(1)])
def test_backward_before_forward_is_an_error(make):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make().backward(np.ones((2, 2)))


def test_registered_alias():
    assert LAYER_REGISTRY["SpatialZeroPadding"] is ZeroPad2d
