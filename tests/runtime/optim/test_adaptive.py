"""Adagrad, Adadelta and RMSprop against closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bigdl_runtime.nn import Parameter
from bigdl_runtime.optim import Adadelta, Adagrad, RMSprop


def _steps(opt, p: Parameter, grads: list[float]) -> float:
    for g in grads:
        p.grad[...] = g
        opt.step()
    return float(p.data[0])


def test_adagrad_accumulates_squares_and_decays_lr() -> None:
    p = Parameter(np.array([0.0]))
    opt = Adagrad([p], lr=0.1, lr_decay=0.5, initial_accumulator_value=1.0, eps=0.0)
    # step 1: sum = 1 + 4, w -= 0.1 * 2 / sqrt(5); step 2: sum = 5 + 1, lr = 0.1 / 1.5, w -= lr * 1 / sqrt(6)
    expected = -0.1 * 2 / math.sqrt(5) - 0.1 / 1.5 / math.sqrt(6)
    assert _steps(opt, p, [2.0, 1.0]) == pytest.approx(expected, rel=1e-12)
    assert opt.state[0]["sum"] == pytest.approx([6.0])


def test_adadelta_first_steps() -> None:
    rho, eps = 0.9, 1e-6
    p = Parameter(np.array([0.0]))
    opt = Adadelta([p], lr=1.0, rho=rho, eps=eps)
    v1 = (1 - rho) * 4
    d1 = math.sqrt(eps) / math.sqrt(v1 + eps) * 2
    u1 = (1 - rho) * d1 * d1
    v2 = rho * v1 + (1 - rho) * 1
    d2 = math.sqrt(u1 + eps) / math.sqrt(v2 + eps) * 1
    assert _steps(opt, p, [2.0, 1.0]) == pytest.approx(-d1 - d2, rel=1e-12)
    assert opt.state[0]["acc_delta"] == pytest.approx([rho * u1 + (1 - rho) * d2 * d2], rel=1e-12)


@pytest.mark.parametrize("centered, momentum", [(False, 0.0), (True, 0.0), (False, 0.5), (True, 0.5)])
def test_rmsprop_two_steps(centered: bool, momentum: float) -> None:
    a, lr, eps = 0.9, 0.01, 1e-8
    p = Parameter(np.array([0.0]))
    opt = RMSprop([p], lr=lr, alpha=a, eps=eps, momentum=momentum, centered=centered)
    v, gbar, buf, w = 0.0, 0.0, 0.0, 0.0
    for g in (2.0, -1.0):
        v = a * v + (1 - a) * g * g
        gbar = a * gbar + (1 - a) * g
        avg = math.sqrt(v - gbar * gbar if centered else v) + eps
        buf = momentum * buf + g / avg
        w -= lr * (buf if momentum else g / avg)
    assert _steps(opt, p, [2.0, -1.0]) == pytest.approx(w, rel=1e-12)


@pytest.mark.parametrize("make, expected", [
    (lambda p: Adagrad([p], lr=0.1, weight_decay=0.5, eps=0.0), 2.0 - 0.1),
    (lambda p: RMSprop([p], lr=0.1, alpha=0.0, eps=0.0, weight_decay=0.5), 2.0 - 0.1),
    (lambda p: Adadelta([p], rho=0.0, eps=1e-6, weight_decay=0.5), 2.0 - 1e-3 / math.sqrt(1 + 1e-6)),
])
def test_weight_decay_is_added_to_the_gradient(make, expected: float) -> None:
    """w = 2 and g = 0: the decayed gradient is 0.5 * 2 = 1 (squared average 1 with alpha = rho = 0)."""
    p = Parameter(np.array([2.0]))
    make(p).step()
    assert p.data[0] == pytest.approx(expected, rel=1e-12)
