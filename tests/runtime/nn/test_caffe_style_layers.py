"""LocalResponseNorm, Scale, Bias, Power, Crop and Normalize layers: gradients, config, errors."""
import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, Bias, Crop, LocalResponseNorm, Normalize, Power, Scale
from tests.helpers.gradcheck import check_module


def _randomise(layer, rng):
    for p in layer.parameters():
        p.data[...] = rng.uniform(0.5, 1.5, p.shape)
    return layer


@pytest.mark.parametrize("make,shapes", [
    (lambda: LocalResponseNorm(3, alpha=0.5, beta=0.75, k=2.0), [(2, 5, 3, 2)]),
    (lambda: LocalResponseNorm(3, alpha=0.5, beta=0.75, region="within"), [(1, 2, 4, 5)]),
    (lambda: Scale([3], bias=True), [(2, 3, 2, 2)]),
    (lambda: Scale([3, 2], axis=1), [(2, 3, 2, 4)]),
    (lambda: Scale([], axis=0, bias=True), [(2, 3)]),
    (lambda: Bias([4], axis=-1), [(2, 3, 4)]),
    (lambda: Power(2.0, scale=0.5, shift=1.0), [(3, 4)]),
    (lambda: Normalize(3, across_spatial=False, channel_shared=False), [(2, 3, 2, 3)]),
    (lambda: Normalize(4), [(2, 4, 3)]),
])
def test_layer_gradients(make, shapes, rng):
    layer = _randomise(make(), rng)
    check_module(layer, [rng.standard_normal(s) for s in shapes])


def test_crop_gradients_and_output(rng):
    layer = Crop(axis=2, offset=[1, 2])
    x, ref = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((1, 1, 3, 3))
    np.testing.assert_array_equal(layer(x, ref), x[:, :, 1:4, 2:5])
    check_module(layer, [x, ref])


def test_scale_and_bias_defaults_are_identity(rng):
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(Scale([3], bias=True)(x), x)
    np.testing.assert_array_equal(Bias([3])(x), x)
    assert Scale([3], bias=True).num_parameters() == 6 and Scale([3]).bias is None


def test_registry_names_and_aliases():
    for name in ["LocalResponseNorm", "SpatialCrossMapLRN", "Scale", "Bias", "Power", "Crop", "Normalize",
                 "NormalizeScale"]:
        assert name in LAYER_REGISTRY


def test_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"Scale\('s1'\): channel_affine: weight of shape \(4,\)"):
        Scale([4], name="s1")(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"Normalize\('n'\): expected input \(N, 8, ...\)"):
        Normalize(8, name="n")(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"Crop\('c'\): crop: axis 2"):
        Crop(name="c")(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 3)))
    with pytest.raises(ValueError, match="region must be 'across' or 'within'"):
        LocalResponseNorm(5, region="spatial")
    with pytest.raises(ValueError, match=r"LocalResponseNorm\('lrn'\): lrn_within"):
        LocalResponseNorm(3, region="within", name="lrn")(np.zeros((2, 3, 4)))
