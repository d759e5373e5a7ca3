"""Crop kernel vs finite differences and numpy slicing; Caffe's offset rules and errors."""
import numpy as np
import pytest

from bigdl_runtime.kernels.crop import crop_backward, crop_forward, crop_offsets
from tests.helpers.gradcheck import check_kernel


@pytest.mark.parametrize("axis,offset", [(2, ()), (2, (1,)), (1, (1, 0, 1)), (-1, (1,)), (0, (0, 1, 1, 0))])
def test_crop_gradients(axis, offset, rng):
    check_kernel(crop_forward, crop_backward, [rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 2, 3, 3))],
                 dict(axis=axis, offset=offset))


def test_crop_matches_slicing(rng):
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    y, _ = crop_forward(x, np.zeros((1, 1, 4, 5), np.float32), axis=2, offset=[3, 1])
    np.testing.assert_array_equal(y, x[:, :, 3:7, 1:6])
    y, _ = crop_forward(x, np.zeros((2, 2, 4, 5), np.float32), axis=1, offset=[1])
    np.testing.assert_array_equal(y, x[:, 1:3, 1:5, 1:6])


def test_crop_offsets_rules_and_errors():
    assert crop_offsets((1, 3, 9, 9), (1, 1, 5, 5), 2) == [0, 0, 0, 0]
    assert crop_offsets((1, 3, 9, 9), (1, 1, 5, 5), 2, [2]) == [0, 0, 2, 2]
    with pytest.raises(ValueError, match="axis 3 of input .* cannot be cut to 5 from offset 5"):
        crop_offsets((1, 3, 9, 9), (1, 1, 5, 5), 2, [0, 5])
    with pytest.raises(ValueError, match="give 0, 1 or 2 offsets"):
        crop_offsets((1, 3, 9, 9), (1, 1, 5, 5), 2, [0, 1, 2])
    with pytest.raises(ValueError, match="same rank"):
        crop_offsets((1, 3, 9, 9), (5, 5), 2)
