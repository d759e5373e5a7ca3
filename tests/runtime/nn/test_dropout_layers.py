"""Dropout layer: train vs eval, seeded reproducibility through nn.random, config rebuild."""
import numpy as np
import pytest

from bigdl_runtime.nn import random
from bigdl_runtime.nn.layers.dropout import Dropout
from tests.helpers.gradcheck import check_module


def test_dropout_eval_is_identity_with_unit_gradient(rng):
    drop = Dropout(0.7).evaluate()
    x = rng.standard_normal((3, 4)).astype(np.float32)
    np.testing.assert_array_equal(drop.forward(x), x)
    check_module(drop, [rng.standard_normal((2, 3))])


def test_dropout_train_masks_and_backward_uses_the_same_mask(rng):
    drop = Dropout(0.5)
    x = np.ones((50, 40), np.float32)
    y = drop.forward(x)
    assert 0.4 < (y == 0).mean() < 0.6 and set(np.unique(y)) == {0.0, 2.0}
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), y)


def test_dropout_mask_follows_manual_seed(rng):
    x = rng.standard_normal((6, 6)).astype(np.float32)
    random.manual_seed(3)
    a = Dropout(0.4).forward(x)
    random.manual_seed(3)
    b = Dropout(0.4).forward(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(Dropout(0.4).forward(x), a)


def test_dropout_config_rebuilds():
    drop = Dropout(0.25, name="drop")
    assert drop.get_config() == {"p": 0.25}
    assert type(drop)(**drop.get_config()).p == 0.25


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match=r"Dropout.*\[0, 1\].*1\.2"):
        Dropout(1.2)


def test_dropout_backward_before_forward_fails():
    with pytest.raises(RuntimeError, match="before forward"):
        Dropout().backward(np.zeros(3, np.float32))
