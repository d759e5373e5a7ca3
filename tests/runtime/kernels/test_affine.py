"""Per-channel affine (Caffe Scale/Bias) and Power kernels vs finite differences and numpy formulas."""
import numpy as np
import pytest

from bigdl_runtime.kernels.affine import (channel_affine_backward, channel_affine_forward, power_backward,
                                          power_forward)
from tests.helpers.gradcheck import check_kernel


@pytest.mark.parametrize("shape,pshape,axis", [
    ((2, 3, 4, 5), (3,), 1), ((2, 3, 4, 5), (3, 4), 1), ((2, 3, 4), (), 1), ((2, 3, 4), (2, 3), 0),
    ((3, 5), (5,), -1), ((2, 3, 2, 2), (2, 2), 2),
])
@pytest.mark.parametrize("with_weight,with_bias", [(True, True), (True, False), (False, True)])
def test_channel_affine_gradients(shape, pshape, axis, with_weight, with_bias, rng):
    w = rng.standard_normal(pshape) if with_weight else None
    b = rng.standard_normal(pshape) if with_bias else None
    check_kernel(channel_affine_forward, channel_affine_backward, [rng.standard_normal(shape), w, b], dict(axis=axis))


def test_channel_affine_matches_numpy_broadcasting(rng):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    w, b = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    y, _ = channel_affine_forward(x, w, b, axis=1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x * w[None, :, :, None] + b[None, :, :, None], rtol=1e-6)
    dx, dw, db = channel_affine_backward(np.ones_like(y), channel_affine_forward(x, w, b, 1)[1])
    np.testing.assert_allclose(db, np.full((3, 4), 10.0), rtol=1e-6)
    np.testing.assert_allclose(dw, x.sum(axis=(0, 3)), rtol=1e-5)


def test_channel_affine_rejects_mismatched_parameter():
    with pytest.raises(ValueError, match=r"weight of shape \(4,\) does not match input \(2, 3, 4\) from axis 1"):
        channel_affine_forward(np.zeros((2, 3, 4)), np.ones(4), None, axis=1)


@pytest.mark.parametrize("power,scale,shift", [(1.0, 2.0, 0.5), (2.0, -1.5, 0.3), (3.0, 0.7, 0.0),
                                               (0.5, 1.0, 4.0), (-1.0, 1.0, 3.0), (0.0, 2.0, 1.0)])
def test_power_gradients(power, scale, shift, rng):
    check_kernel(power_forward, power_backward, [rng.uniform(-1, 1, (3, 4))], dict(power=power, scale=scale, shift=shift))


def test_power_matches_formula(rng):
    x = rng.uniform(0, 2, (4, 5)).astype(np.float32)
    y, _ = power_forward(x, power=1.7, scale=0.5, shift=0.25)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, (0.25 + 0.5 * x.astype(np.float64)) ** 1.7, rtol=1e-6)
    with np.errstate(invalid="ignore"):
        assert np.isnan(power_forward(np.array([-1.0]), power=0.5)[0][0])
