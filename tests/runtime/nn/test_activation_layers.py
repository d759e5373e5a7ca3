"""Activation layers: gradients, config rebuild, aliases, errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY
from bigdl_runtime.nn.layers.activation import (ELU, GELU, SELU, Hardsigmoid, Hardswish, LeakyReLU, LogSoftmax,
                                                PReLU, ReLU, Sigmoid, Softmax, Softplus, Tanh)
from tests.helpers.gradcheck import check_module

LAYERS = [
    lambda: ReLU(),
    lambda: LeakyReLU(0.2),
    lambda: ELU(alpha=0.5),
    lambda: SELU(),
    lambda: GELU(),
    lambda: GELU(approximate="tanh"),
    lambda: Sigmoid(),
    lambda: Tanh(),
    lambda: Hardsigmoid(),
    lambda: Hardsigmoid(alpha=0.2, beta=0.5),
    lambda: Hardswish(),
    lambda: Softplus(beta=2.0, threshold=5.0),
    lambda: Softmax(dim=1),
    lambda: LogSoftmax(),
    lambda: PReLU(),
    lambda: PReLU(3, init=0.1),
]


def _x(shape=(2, 3, 4), seed=0):
    return 3.0 * np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("make", LAYERS)
def test_gradients_match_finite_differences(make):
    check_module(make(), [_x()])


@pytest.mark.parametrize("make", LAYERS)
def test_config_rebuilds_the_same_layer(make):
    m = make()
    rebuilt = type(m)(**m.get_config())
    assert rebuilt.get_config() == m.get_config()
    x = _x().astype(np.float32)
    y = m(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_array_equal(rebuilt(x), y)


@pytest.mark.parametrize("make", LAYERS)
def test_backward_before_forward_is_an_error(make):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make().backward(np.ones((2, 3, 4)))


def test_prelu_accumulates_slope_gradient():
    m = PReLU(2)
    x = np.array([[-1.0, -2.0], [3.0, -4.0]], np.float32)
    m(x)
    m.backward(np.ones_like(x))
    m(x)
    m.backward(np.ones_like(x))
    np.testing.assert_allclose(m.weight.grad, [2 * -1.0, 2 * -6.0])


@pytest.mark.parametrize("make, x, message", [
    (lambda: PReLU(3, name="act"), np.zeros((2, 4, 5)),
     r"PReLU\('act'\): expected input \(N, 3, \.\.\.\), got \(2, 4, 5\)"),
    (lambda: Softmax(dim=2), np.zeros((2, 3)), r"Softmax: dim 2 is out of range for a 2-D input \(2, 3\)"),
    (lambda: LogSoftmax(dim=-3), np.zeros((2, 3)), r"LogSoftmax: dim -3"),
])
def test_bad_input_names_the_layer(make, x, message):
    with pytest.raises(ValueError, match=message):
        make()(x)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="GELU: approximate"):
        GELU(approximate="erf")


@pytest.mark.parametrize("alias, cls", [
    ("SoftMax", Softmax), ("LogSoftMax", LogSoftmax), ("HardSigmoid", Hardsigmoid),
    ("HardSwish", Hardswish), ("SoftPlus", Softplus), ("ReLU", ReLU), ("PReLU", PReLU),
])
def test_registered_names(alias, cls):
    assert LAYER_REGISTRY[alias] is cls


def test_relu_in_evaluation_mode_keeps_its_output_and_still_has_a_backward(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    dy = rng.standard_normal((4, 5)).astype(np.float32)
    layer = ReLU()
    y_train, ctx = layer.forward_pass(x)
    assert ctx.dtype == bool
    dx_train = layer.backward_pass(dy, ctx)
    layer.evaluate()
    y_eval, ctx = layer.forward_pass(x)
    assert ctx is y_eval  # no separate mask is computed for inference
    np.testing.assert_array_equal(y_eval, y_train)
    np.testing.assert_array_equal(layer.backward_pass(dy, ctx), dx_train)
    np.testing.assert_array_equal(dx_train, dy * (x > 0))


def _activation_classes():
    from bigdl_runtime.nn.layers.activation import _Activation

    found, todo = [], [_Activation]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if not sub.__name__.startswith("_"):
                found.append(sub)
    return sorted(found, key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", [c for c in _activation_classes() if not c._configured])
def test_unconfigured_activations_infer_the_forward_output(cls):
    """The direct kernel call of an activation without configuration gives its forward's output."""
    x = np.linspace(-0.9, 0.9, 18).reshape(2, 3, 3)  # square matrices: Det is one of them
    layer = cls().evaluate()
    np.testing.assert_allclose(layer(x), layer.forward_pass(x)[0], rtol=1e-12, atol=1e-15)


def test_activations_with_configuration_or_parameters_keep_the_layer_path():
    assert LeakyReLU._configured and Softmax._configured and ReLU._configured  # ReLU: its own _kernel_config
    assert not Sigmoid._configured and not Tanh._configured
    np.testing.assert_allclose(LeakyReLU(0.5).evaluate()(np.array([-2.0, 2.0])), [-1.0, 2.0])
