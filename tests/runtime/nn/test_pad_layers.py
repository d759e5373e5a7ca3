"""Padding layers: Pad (ONNX layout, all modes, pads fixed or computed), SamePad and ZeroPad2d (PyTorch layout)."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.pad import Pad, SamePad, ZeroPad2d
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
    torch = pytest.importorskip("torch")
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


@pytest.mark.parametrize("upper", [True, False])
def test_same_pad_gives_ceil_outputs_and_its_gradient(upper: bool) -> None:
    rng = np.random.default_rng(0)
    layer = SamePad([3, 2], [2, 3], [1, 2], upper=upper)
    x = rng.standard_normal((2, 1, 7, 8))
    y = layer(x)
    # H: ceil(7/2)=4 outputs need (4-1)*2+3 = 9 rows (2 pad); W: ceil(8/3)=3 need (3-1)*3+(2-1)*2+1 = 9 (1 pad)
    assert y.shape == (2, 1, 9, 9)
    top, left = (1, 0) if upper else (1, 1)
    np.testing.assert_array_equal(y[:, :, top:top + 7, left:left + 8], x)
    assert layer.pads((2, 1, 7, 8)) == ([0, 0, 1, 0, 0, 0, 1, 1] if upper else [0, 0, 1, 1, 0, 0, 1, 0])
    check_module(layer, [x])
    with pytest.raises(ValueError, match="fewer than 2 axes"):
        layer(np.zeros(3))


def test_pad_with_computed_pads_of_some_axes_and_its_gradient() -> None:
    rng = np.random.default_rng(0)
    layer = Pad(None, mode="reflect", axes=[-1, 1])
    x = rng.standard_normal((2, 4, 5))
    y = layer(x, np.array([2, 1, 0, 2]))  # last axis: 2 before, 0 after; axis 1: 1 before, 2 after
    np.testing.assert_array_equal(y, np.pad(x, [(0, 0), (1, 2), (2, 0)], mode="reflect"))
    assert layer.backward(np.ones_like(y))[1] is None
    check_module(_WithPads(layer, np.array([2, 1, 0, 2])), [x])
    with pytest.raises(ValueError, match="exactly one of them"):
        layer(x)
    with pytest.raises(ValueError, match="6 pads for the 2 axes"):
        Pad(None, axes=[0, 1])(x, np.zeros(6, np.int64))


class _WithPads(Pad):
    """A computed-pads Pad with its pads input fixed (for the gradient check)."""

    def __init__(self, layer: Pad, pads: np.ndarray) -> None:
        super().__init__(None, layer.mode, layer.value, layer.axes)
        self.fixed = pads

    def forward(self, x):
        return super().forward(x, self.fixed)

    def backward(self, grad_output):
        return super().backward(grad_output)[0]
