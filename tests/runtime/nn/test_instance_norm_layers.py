"""Instance norm layers: the formula in both modes, gradients (input and affine parameters), rank checks."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import layers as L
from tests.helpers.gradcheck import check_module


@pytest.mark.parametrize("cls, shape", [(L.InstanceNorm, (2, 3, 4)), (L.InstanceNorm1d, (2, 3, 5)),
                                        (L.InstanceNorm2d, (2, 3, 3, 4)), (L.InstanceNorm3d, (1, 3, 2, 3, 2))])
def test_gradients_with_affine_parameters(cls, shape):
    m = cls(3, eps=1e-3, affine=True)
    rng = np.random.default_rng(0)
    m.weight.data[...] = rng.uniform(0.5, 1.5, 3)
    m.bias.data[...] = rng.standard_normal(3)
    check_module(m, [rng.standard_normal(shape)])


def test_same_statistics_in_training_and_evaluation():
    x = np.random.default_rng(1).standard_normal((2, 4, 5, 6)).astype(np.float32)
    m = L.InstanceNorm2d(4, affine=True)
    m.weight.data[...] = [0.5, 1.0, 1.5, 2.0]
    m.bias.data[...] = [0.0, 1.0, -1.0, 2.0]
    mean = x.mean(axis=(2, 3), keepdims=True)
    std = np.sqrt(x.var(axis=(2, 3), keepdims=True) + 1e-5)
    expected = (x - mean) / std * m.weight.data[:, None, None] + m.bias.data[:, None, None]
    for mode in (True, False):
        m.train(mode)
        np.testing.assert_allclose(m(x), expected, rtol=1e-5, atol=1e-5)
    assert m(x).dtype == np.float32


def test_no_affine_has_no_parameters_and_rank_errors_name_the_layer():
    assert L.InstanceNorm2d(3).parameters() == []
    with pytest.raises(ValueError, match=r"InstanceNorm2d\('in'\): expected a 4-D input \(N, C=3"):
        L.InstanceNorm2d(3, name="in")(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="at least 3-D"):
        L.InstanceNorm(3)(np.zeros((2, 3)))
