"""Upsample layer: nearest and bilinear, by scale or size."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.resize import Upsample, UpsampleTo
from tests.helpers.gradcheck import check_module

CASES = [  # (layer factory, output shape for a (1, 2, 3, 4) input)
    (lambda: Upsample(scale_factor=2), (1, 2, 6, 8)),
    (lambda: Upsample(size=(4, 5)), (1, 2, 4, 5)),
    (lambda: Upsample(scale_factor=(1.5, 0.5), mode="bilinear"), (1, 2, 4, 2)),
    (lambda: Upsample(size=5, mode="bilinear", align_corners=True), (1, 2, 5, 5)),
]


def _x(seed=0):
    return np.random.default_rng(seed).standard_normal((1, 2, 3, 4))


@pytest.mark.parametrize("make, out_shape", CASES)
def test_output_shape_and_gradients(make, out_shape):
    m = make()
    assert m(_x()).shape == out_shape
    check_module(m, [_x()])


@pytest.mark.parametrize("make, out_shape", CASES)
def test_config_rebuilds_the_same_layer(make, out_shape):
    m = make()
    rebuilt = type(m)(**m.get_config())
    assert rebuilt.get_config() == m.get_config()
    x = _x().astype(np.float32)
    np.testing.assert_array_equal(rebuilt(x), m(x))
    assert m(x).dtype == np.float32


@pytest.mark.parametrize("mode, align_corners", [("nearest", None), ("bilinear", False), ("bilinear", True)])
def test_matches_torch_upsample(mode, align_corners):
    torch = pytest.importorskip("torch")
    x = _x().astype(np.float32)
    expected = torch.nn.Upsample(scale_factor=(2.5, 1.5), mode=mode, align_corners=align_corners)(torch.tensor(x))
    m = Upsample(scale_factor=(2.5, 1.5), mode=mode, align_corners=bool(align_corners))
    np.testing.assert_allclose(m(x), expected.numpy(), rtol=1e-6, atol=1e-6)


def test_nearest_doubling_repeats_pixels():
    x = np.arange(4.0, dtype=np.float32).reshape(1, 1, 2, 2)
    np.testing.assert_array_equal(Upsample(scale_factor=2)(x)[0, 0], [[0, 0, 1, 1], [0, 0, 1, 1],
                                                                       [2, 2, 3, 3], [2, 2, 3, 3]])


def test_non_nchw_input_names_the_layer():
    with pytest.raises(ValueError, match=r"Upsample\('up'\): .*NCHW input, got shape \(3, 4, 4\)"):
        Upsample(scale_factor=2, name="up")(np.zeros((3, 4, 4)))


@pytest.mark.parametrize("kwargs, message", [
    ({}, "exactly one of"),
    ({"scale_factor": 2, "size": 4}, "exactly one of"),
    ({"scale_factor": 2, "mode": "bicubic"}, "mode must be"),
    ({"scale_factor": 2, "align_corners": True}, "align_corners only applies"),
])
def test_bad_construction_is_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Upsample(**kwargs)


def test_backward_before_forward_is_an_error():
    with pytest.raises(RuntimeError, match="backward called before forward"):
        Upsample(scale_factor=2).backward(np.ones((1, 1, 2, 2)))


def test_registered_alias():
    assert LAYER_REGISTRY["UpSampling2D"] is Upsample


@pytest.mark.parametrize("mode, align", [("nearest", False), ("bilinear", False), ("bilinear", True)])
def test_upsample_to_a_size_given_per_call(mode: str, align: bool) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    fixed = Upsample(size=[7, 3], mode=mode, align_corners=align)
    layer = UpsampleTo(mode, align_corners=align)
    np.testing.assert_array_equal(layer(x, np.array([2, 3, 7, 3])), fixed(x))
    np.testing.assert_array_equal(layer(x, np.array([7, 3])), fixed(x))
    assert layer.backward(np.ones((2, 3, 7, 3)))[1] is None
    check_module(_SizeFixed(layer, np.array([6, 8])), [x])
    with pytest.raises(ValueError, match="must be \\(H, W\\) or the input's"):
        layer(x, np.array([1, 3, 7, 3]))


class _SizeFixed(UpsampleTo):
    """UpsampleTo with its size input fixed (for the gradient check)."""

    def __init__(self, layer: UpsampleTo, size: np.ndarray) -> None:
        super().__init__(layer.mode, layer.align_corners)
        self.fixed = size

    def forward(self, x):
        return super().forward(x, self.fixed)

    def backward(self, grad_output):
        return super().backward(grad_output)[0]
