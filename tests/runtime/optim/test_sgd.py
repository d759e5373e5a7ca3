"""SGD against hand-computed trajectories (momentum, dampening, Nesterov, weight decay)."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Parameter
from bigdl_runtime.optim import SGD


def _run(opt: SGD, p: Parameter, grads: list[float]) -> list[float]:
    out = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        out.append(float(p.data[0]))
    return out


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [0.9, 0.8, 0.7]),
    # buf = 1, 1.9, 2.71 -> w = 1 - 0.1 * cumsum(buf)
    ({"momentum": 0.9}, [0.9, 0.71, 0.439]),
    # buf = 1 (first step undamped), 0.9 + 0.5 = 1.4, 1.26 + 0.5 = 1.76
    ({"momentum": 0.9, "dampening": 0.5}, [0.9, 0.76, 0.584]),
    # step = g + 0.9 * buf: 1.9, 2.71, 3.439
    ({"momentum": 0.9, "nesterov": True}, [0.81, 0.539, 0.1951]),
])
def test_constant_gradient_trajectories(kwargs: dict, expected: list[float]) -> None:
    p = Parameter(np.array([1.0]))
    assert _run(SGD([p], lr=0.1, **kwargs), p, [1.0, 1.0, 1.0]) == pytest.approx(expected, rel=1e-12)


def test_weight_decay_adds_the_weights_to_the_gradient() -> None:
    p = Parameter(np.array([2.0]))
    # g' = 1 + 0.5 * w: w1 = 2 - 0.1 * 2 = 1.8, w2 = 1.8 - 0.1 * 1.9 = 1.61
    assert _run(SGD([p], lr=0.1, weight_decay=0.5), p, [1.0, 1.0]) == pytest.approx([1.8, 1.61], rel=1e-12)


def test_momentum_with_weight_decay_and_varying_gradients() -> None:
    p = Parameter(np.array([1.0]))
    # step 1: g' = 2 + 0.1 = 2.1, buf = 2.1, w = 1 - 0.21 = 0.79
    # step 2: g' = -1 + 0.079 = -0.921, buf = 0.5 * 2.1 - 0.921 = 0.129, w = 0.79 - 0.0129 = 0.7771
    opt = SGD([p], lr=0.1, momentum=0.5, weight_decay=0.1)
    assert _run(opt, p, [2.0, -1.0]) == pytest.approx([0.79, 0.7771], rel=1e-12)
    assert opt.state[0]["momentum_buffer"] == pytest.approx([0.129], rel=1e-12)


def test_invalid_hyper_parameters() -> None:
    p = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="Nesterov momentum needs momentum > 0 and dampening = 0"):
        SGD([p], nesterov=True)
    with pytest.raises(ValueError, match="SGD: lr must be >= 0"):
        SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="SGD: momentum must be >= 0"):
        SGD([p], momentum=-0.5)
