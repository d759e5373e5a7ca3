"""clip_grad_norm and clip_grad_value against hand values and torch.nn.utils."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Parameter
from bigdl_runtime.optim import clip_grad_norm, clip_grad_value


def _with_grads(*grads: list[float], trainable: tuple[bool, ...] | None = None) -> list[Parameter]:
    params = []
    for i, g in enumerate(grads):
        p = Parameter(np.zeros(len(g)), trainable=True if trainable is None else trainable[i])
        p.grad[...] = g
        params.append(p)
    return params


def test_global_norm_is_taken_over_all_parameters() -> None:
    params = _with_grads([3.0], [4.0])
    assert clip_grad_norm(params, max_norm=1.0) == pytest.approx(5.0)
    scale = 1.0 / (5.0 + 1e-6)
    np.testing.assert_allclose([params[0].grad[0], params[1].grad[0]], [3 * scale, 4 * scale], rtol=1e-12)


def test_norm_below_the_limit_is_untouched() -> None:
    params = _with_grads([3.0, -4.0])
    assert clip_grad_norm(params, max_norm=10.0) == pytest.approx(5.0)
    np.testing.assert_array_equal(params[0].grad, [3.0, -4.0])


def test_frozen_parameters_are_ignored() -> None:
    params = _with_grads([3.0], [400.0], trainable=(True, False))
    assert clip_grad_norm(params, max_norm=1.5) == pytest.approx(3.0)
    assert params[0].grad[0] == pytest.approx(1.5 * 3 / (3 + 1e-6))
    assert params[1].grad[0] == 400.0


def test_clip_value_clamps_elementwise_in_place() -> None:
    params = _with_grads([2.0, -0.1, -7.0], [0.5], trainable=(True, True))
    grad = params[0].grad
    clip_grad_value(params, 0.5)
    assert params[0].grad is grad
    np.testing.assert_array_equal(grad, [0.5, -0.1, -0.5])
    np.testing.assert_array_equal(params[1].grad, [0.5])


def test_float32_stays_float32() -> None:
    p = Parameter(np.zeros(3, np.float32))
    p.grad[...] = [1.0, 2.0, 2.0]
    clip_grad_norm([p], 1.0)
    assert p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad, [1 / 3, 2 / 3, 2 / 3], rtol=1e-6)


def test_matches_torch_clip_grad_norm() -> None:
    import torch
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    ours = [Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, t, g in zip(ours, theirs, grads):
        p.grad[...] = g
        t.grad = torch.tensor(g)
    norm = clip_grad_norm(ours, 0.7)
    assert norm == pytest.approx(torch.nn.utils.clip_grad_norm_(theirs, 0.7).item(), rel=1e-12)
    for p, t in zip(ours, theirs):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("call", [lambda ps: clip_grad_norm(ps, 0.0), lambda ps: clip_grad_value(ps, -1.0)])
def test_non_positive_limits_are_rejected(call) -> None:
    with pytest.raises(ValueError, match="must be > 0"):
        call(_with_grads([1.0]))
