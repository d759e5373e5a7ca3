"""Adam and AdamW against closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bigdl_runtime.nn import Parameter
from bigdl_runtime.optim import Adam, AdamW


def test_constant_gradient_moves_lr_per_step() -> None:
    """With a constant g the bias-corrected moments are g and g^2: each step is lr * g / (|g| + eps)."""
    g = np.array([2.0, -0.5, 1e-3])
    p = Parameter(np.zeros(3))
    opt = Adam([p], lr=0.01, eps=1e-8)
    for t in range(1, 6):
        p.grad[...] = g
        opt.step()
        np.testing.assert_allclose(p.data, -t * 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-10)
    assert opt.state[0]["step"] == 5


def test_two_steps_by_hand() -> None:
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    p = Parameter(np.array([1.0]))
    opt = Adam([p], lr=lr, betas=(b1, b2), eps=eps)
    p.grad[...] = 1.0
    opt.step()
    p.grad[...] = 3.0
    opt.step()
    m = b1 * (1 - b1) * 1 + (1 - b1) * 3
    v = b2 * (1 - b2) * 1 + (1 - b2) * 9
    step2 = lr / (1 - b1 ** 2) * m / (math.sqrt(v) / math.sqrt(1 - b2 ** 2) + eps)
    assert p.data[0] == pytest.approx(1.0 - lr * 1 / (1 + eps) - step2, rel=1e-12)


def test_amsgrad_keeps_the_largest_second_moment() -> None:
    p = Parameter(np.array([0.0]))
    opt = Adam([p], lr=0.1, betas=(0.0, 0.5), amsgrad=True)
    for g in (4.0, 0.0):
        p.grad[...] = g
        opt.step()
    # v: 8, then 4; v_max stays 8; m = 0 at step 2, so the second step does not move w
    assert opt.state[0]["max_exp_avg_sq"] == pytest.approx([8.0])
    assert opt.state[0]["exp_avg_sq"] == pytest.approx([4.0])
    assert p.data[0] == pytest.approx(-0.1 * 4 / (math.sqrt(8) / math.sqrt(0.5) + 1e-8), rel=1e-12)


def test_weight_decay_coupled_vs_decoupled() -> None:
    """Adam adds wd * w to g (which the normalisation then cancels); AdamW shrinks w by lr * wd first."""
    coupled, decoupled = Parameter(np.array([2.0])), Parameter(np.array([2.0]))
    Adam([coupled], lr=0.1, weight_decay=0.5).step()  # g = 0 + 1 = 1 -> step lr * 1 / (1 + eps)
    AdamW([decoupled], lr=0.1, weight_decay=0.5).step()  # w = 2 * 0.95, then g = 0 -> no Adam step
    assert coupled.data[0] == pytest.approx(2.0 - 0.1 / (1 + 1e-8), rel=1e-12)
    assert decoupled.data[0] == pytest.approx(1.9, rel=1e-12)


def test_adamw_defaults_to_decoupled_weight_decay_of_1e_2() -> None:
    assert AdamW([Parameter(np.zeros(1))]).weight_decay == 1e-2


def test_invalid_betas() -> None:
    with pytest.raises(ValueError, match=r"Adam: betas must be two values in \[0, 1\)"):
        Adam([Parameter(np.zeros(1))], betas=(0.9, 1.0))
