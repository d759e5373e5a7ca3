"""Elementwise merge layers: Add (n inputs), Sub, Mul, Div with broadcasting."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.elementwise import Add, Div, Mul, Sub
from tests.helpers.gradcheck import check_module


def _inputs(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [np.sign(x) * (0.5 + np.abs(x)) for x in (rng.standard_normal(s) for s in shapes)]


CASES = [  # (layer class, input shapes, numpy reference)
    (Add, [(2, 3), (2, 3), (3,)], lambda a, b, c: a + b + c),
    (Add, [(2, 1, 3)], lambda a: a),
    (Sub, [(2, 3, 2), (3, 1)], np.subtract),
    (Mul, [(2, 3), (1, 3)], np.multiply),
    (Div, [(2, 1), (2, 4)], np.divide),
]


@pytest.mark.parametrize("cls, shapes, reference", CASES)
def test_forward_and_gradients(cls, shapes, reference):
    inputs = _inputs(*shapes)
    m = cls()
    np.testing.assert_allclose(m(*inputs), reference(*inputs))
    check_module(m, inputs)
    grads = m.backward(np.ones_like(m(*inputs)))
    grads = grads if isinstance(grads, tuple) else (grads,)  # one input: a plain array, as every layer
    assert [g.shape for g in grads] == list(shapes)


@pytest.mark.parametrize("cls, shapes, reference", CASES)
def test_inputs_may_come_as_one_tuple(cls, shapes, reference):
    inputs = [x.astype(np.float32) for x in _inputs(*shapes)]
    y = cls()(tuple(inputs))
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, cls(**cls().get_config())(*inputs))


@pytest.mark.parametrize("cls", [Sub, Mul, Div])
def test_binary_layers_need_two_inputs(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: expected 2 inputs, got 3"):
        cls()(np.ones(2), np.ones(2), np.ones(2))


@pytest.mark.parametrize("cls", [Add, Sub, Mul, Div])
def test_incompatible_shapes_name_the_layer(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}\('merge'\): .*\(2, 3\), \(2,\)"):
        cls(name="merge")(np.ones((2, 3)), np.ones(2))


@pytest.mark.parametrize("cls", [Add, Sub, Mul, Div])
def test_backward_before_forward_is_an_error(cls):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        cls().backward(np.ones(2))


@pytest.mark.parametrize("alias, cls", [("CAddTable", Add), ("CSubTable", Sub), ("CMulTable", Mul), ("CDivTable", Div)])
def test_registered_aliases(alias, cls):
    assert LAYER_REGISTRY[alias] is cls
