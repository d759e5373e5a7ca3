"""L1 / L2 / L1L2 penalties and set_regularizer."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Module, Parameter, Sequential
from bigdl_runtime.optim import L1, L2, L1L2, set_regularizer
from tests.helpers.gradcheck import assert_close, numeric_grad


class Dense(Module):
    """Parameters only (weight, bias): enough for attaching regularizers."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.weight = Parameter(np.ones((2, 2)))
        self.bias = Parameter(np.zeros(2))


class Block(Module):
    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self.inner = Dense()
        self.gain = Parameter(np.ones(1))


W = np.array([[-2.0, 0.5], [3.0, -1.0]])


@pytest.mark.parametrize("reg, penalty, grad", [
    (L1(0.1), 0.1 * 6.5, 0.1 * np.sign(W)),
    (L2(0.2), 0.5 * 0.2 * 14.25, 0.2 * W),
    (L1L2(l1=0.1, l2=0.2), 0.1 * 6.5 + 0.1 * 14.25, 0.1 * np.sign(W) + 0.2 * W),
])
def test_hand_values(reg: L1L2, penalty: float, grad: np.ndarray) -> None:
    assert reg.penalty(W) == pytest.approx(penalty, rel=1e-12)
    np.testing.assert_allclose(reg.grad(W), grad, rtol=1e-12)


@pytest.mark.parametrize("reg", [L1(0.3), L2(0.7), L1L2(0.2, 0.4)])
def test_grad_is_the_derivative_of_the_penalty(reg: L1L2) -> None:
    w = W.copy()
    assert_close(reg.grad(w), numeric_grad(lambda: reg.penalty(w), w), repr(reg), 1e-6, 1e-9)


def test_grad_keeps_float32() -> None:
    assert L1L2(0.1, 0.1).grad(W.astype(np.float32)).dtype == np.float32
    assert L1(0.1).grad(W.astype(np.float32)).dtype == np.float32


def test_negative_coefficients_are_rejected() -> None:
    with pytest.raises(ValueError, match="L2: coefficients must be >= 0"):
        L2(-1.0)


def _net() -> Sequential:
    return Sequential(Dense(name="a"), Block(), Dense(name="c"))


def test_whole_model_weights_only_by_default() -> None:
    net, reg = _net(), L2(1e-4)
    assert set_regularizer(net, reg) == ["a.weight", "1.gain", "1.inner.weight", "c.weight"]
    assert {k for k, p in net.named_parameters() if p.regularizer is reg} == {"a.weight", "1.inner.weight",
                                                                             "1.gain", "c.weight"}


def test_named_layers_with_bias() -> None:
    net, reg = _net(), L1(1e-3)
    assert set_regularizer(net, reg, layers=["c", "1.inner"], include_bias=True) == [
        "c.weight", "c.bias", "1.inner.weight", "1.inner.bias"]
    assert net[0].weight.regularizer is None


def test_none_removes_and_a_single_name_is_accepted() -> None:
    net = _net()
    set_regularizer(net, L2(0.1))
    set_regularizer(net, None, layers="a")
    assert net[0].weight.regularizer is None and net[2].weight.regularizer is not None


def test_unknown_layer_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match=r"Sequential: no layer named 'conv9'; known layers: \['1', '1.inner', 'a', 'c'\]"):
        set_regularizer(_net(), L2(0.1), layers=["a", "conv9"])
