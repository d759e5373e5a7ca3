"""The optimizer contract the trainers rely on: in-place updates, frozen parameters, regularizers,
clipping, schedules, epochs, state_dict round trips and errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Parameter
from bigdl_runtime.optim import (L1, L2, SGD, Adadelta, Adagrad, Adam, AdamW, Cosine, Optimizer,
                                 ReduceLROnPlateau, RMSprop, Step, Warmup)

FACTORIES = {
    "sgd_nesterov": lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3,
                                   schedule=Warmup(2, then=Step(1, gamma=0.5, by="iteration"), start_factor=0.5)),
    "adam_amsgrad": lambda ps: Adam(ps, lr=0.01, amsgrad=True, clip_norm=1.0,
                                    schedule=Warmup(1, then=ReduceLROnPlateau(patience=0))),
    "adamw": lambda ps: AdamW(ps, lr=0.01, clip_value=0.5, schedule=Cosine(4, eta_min=1e-3, by="iteration")),
    "adagrad": lambda ps: Adagrad(ps, lr=0.1, lr_decay=0.1),
    "adadelta": lambda ps: Adadelta(ps, weight_decay=0.1),
    "rmsprop": lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
}


def _params(seed: int = 0, dtype: type = np.float64) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [Parameter(rng.standard_normal((2, 3)).astype(dtype)), Parameter(rng.standard_normal(4).astype(dtype))]


def _train(opt: Optimizer, rng: np.random.Generator, steps: int) -> None:
    """``steps`` iterations with an epoch end (and a validation metric) every two."""
    for _ in range(steps):
        for p in opt.params:
            p.grad[...] = rng.standard_normal(p.shape)
        opt.step()
        if opt.iteration % 2 == 0:
            opt.epoch_end(opt.epoch + 1, metric=1.0)


@pytest.mark.parametrize("key", FACTORIES)
@pytest.mark.parametrize("as_arrays", [False, True], ids=["plain", "scalars-as-arrays"])
def test_state_dict_round_trip_continues_identically(key: str, as_arrays: bool) -> None:
    """Also when a checkpoint hands numbers back as 0-d arrays (and tuples as 1-d arrays)."""
    rng = np.random.default_rng(1)
    first = FACTORIES[key](_params())
    _train(first, rng, 3)
    state = first.state_dict()
    plain = (bool, int, float, str, type(None), np.ndarray)
    assert all(isinstance(k, str) and isinstance(v, plain) for k, v in state.items()), state
    if as_arrays:
        state = {k: v if isinstance(v, (str, type(None))) else np.asarray(v) for k, v in state.items()}
    second = FACTORIES[key]([Parameter(p.data.copy()) for p in first.params])
    second.load_state_dict(state)
    assert second.current_lr == first.current_lr
    _train(first, np.random.default_rng(2), 4)
    _train(second, np.random.default_rng(2), 4)
    for a, b in zip(first.params, second.params):
        np.testing.assert_array_equal(a.data, b.data)
    assert (second.iteration, second.epoch, second.current_lr) == (first.iteration, first.epoch, first.current_lr)


@pytest.mark.parametrize("key", FACTORIES)
def test_updates_are_in_place_on_a_flat_view_and_keep_float32(key: str) -> None:
    """The distributed trainer passes one Parameter viewing the flat weight vector."""
    flat = np.linspace(-1, 1, 10, dtype=np.float32)
    p = Parameter(flat)
    view = p.data
    opt = FACTORIES[key]([p])
    for _ in range(2):  # warmup may start at lr 0
        p.grad[...] = np.arange(10, dtype=np.float32) - 4.5
        opt.step()
    assert p.data is view and p.data.dtype == np.float32
    assert np.shares_memory(p.data, flat) and not np.allclose(flat, np.linspace(-1, 1, 10))
    assert all(v.dtype == np.float32 for v in opt.state[0].values() if isinstance(v, np.ndarray))


def test_frozen_parameters_are_not_updated() -> None:
    live, frozen = Parameter(np.ones(2)), Parameter(np.ones(2), trainable=False)
    opt = Adam([live, frozen], lr=0.1)
    live.grad[...] = frozen.grad[...] = 1.0
    opt.step()
    np.testing.assert_array_equal(frozen.data, [1.0, 1.0])
    assert opt.state[1] == {} and opt.iteration == 1
    assert live.data == pytest.approx([0.9, 0.9])


def test_regularizer_gradient_is_added_without_touching_p_grad() -> None:
    a, b = Parameter(np.array([1.0, -2.0])), Parameter(np.array([1.0, -2.0]))
    a.regularizer, b.regularizer = L2(0.5), L1(0.1)
    SGD([a, b], lr=1.0).step()
    np.testing.assert_allclose(a.data, [0.5, -1.0])
    np.testing.assert_allclose(b.data, [0.9, -1.9])
    assert not a.grad.any() and not b.grad.any()


def test_clip_value_then_global_norm_in_step() -> None:
    a, b = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    opt = SGD([a, b], lr=1.0, clip_value=3.0, clip_norm=2.5)
    a.grad[...], b.grad[...] = 3.0, 10.0  # clamped to (3, 3), norm 3 * sqrt(2) > 2.5 -> scaled
    opt.step()
    scale = 2.5 / (3 * np.sqrt(2) + 1e-6)
    np.testing.assert_allclose([a.data[0], b.data[0]], [-3 * scale, -3 * scale], rtol=1e-12)


def test_regularizer_is_clipped_with_the_gradient() -> None:
    p = Parameter(np.array([4.0]))
    p.regularizer = L2(1.0)
    SGD([p], lr=1.0, clip_value=1.0).step()  # g = 0 + 4 -> clamped to 1
    assert p.data[0] == pytest.approx(3.0)


def test_schedule_drives_current_lr_per_iteration_and_epoch() -> None:
    p = Parameter(np.zeros(1))
    opt = SGD([p], lr=0.1, schedule=Step(2, gamma=0.5, by="iteration"))
    p.grad[...] = 1.0
    lrs = []
    for _ in range(3):
        lrs.append(opt.current_lr)
        opt.step()
    assert lrs == pytest.approx([0.1, 0.1, 0.05])
    assert p.data[0] == pytest.approx(-0.25)
    by_epoch = SGD([p], lr=0.1, schedule=Step(1, gamma=0.1))
    by_epoch.epoch_end(1)
    by_epoch.epoch_end(2)
    assert by_epoch.current_lr == pytest.approx(0.001) and by_epoch.epoch == 2


def test_plateau_is_driven_by_the_epoch_metric() -> None:
    opt = SGD([Parameter(np.zeros(1))], lr=1.0, schedule=ReduceLROnPlateau(factor=0.5, patience=1))
    for epoch, loss in enumerate([1.0, 1.0, 1.0, 0.5, 0.5, 0.5], start=1):
        opt.epoch_end(epoch, loss)
    assert opt.current_lr == pytest.approx(0.25)
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau needs a metric: call epoch_end\(7, metric=...\)"):
        opt.epoch_end(7)


def test_zero_grad_clears_in_place() -> None:
    p = Parameter(np.ones(3))
    grad = p.grad
    p.grad[...] = 5.0
    SGD([p]).zero_grad()
    assert p.grad is grad and not grad.any()


def test_epoch_counts_from_one() -> None:
    with pytest.raises(ValueError, match="epoch counts completed epochs and starts at 1, got 0"):
        SGD([Parameter(np.zeros(1))]).epoch_end(0)


def test_construction_errors() -> None:
    with pytest.raises(ValueError, match="SGD: got an empty parameter list"):
        SGD([])
    with pytest.raises(TypeError, match=r"Adam: params\[1\] is a ndarray, not a Parameter"):
        Adam([Parameter(np.zeros(1)), np.zeros(1)])
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        SGD([Parameter(np.zeros(1))], clip_norm=0.0)


def test_load_state_dict_errors() -> None:
    state = SGD(_params(), momentum=0.9).state_dict()
    with pytest.raises(ValueError, match="Adam: cannot load the state of a SGD optimizer"):
        Adam(_params()).load_state_dict(state)
    with pytest.raises(ValueError, match="the state is for 2 parameters, this optimizer has 1"):
        SGD(_params()[:1]).load_state_dict(state)
    with pytest.raises(ValueError, match="the saved state has no schedule, this optimizer has one"):
        SGD(_params(), schedule=Step(1)).load_state_dict(state)
    opt = SGD(_params(), momentum=0.9)
    for p in opt.params:
        p.grad[...] = 1.0
    opt.step()
    wrong = [Parameter(np.zeros((3, 2))), Parameter(np.zeros(4))]
    with pytest.raises(ValueError, match=r"'state.0.momentum_buffer' has shape \(2, 3\), parameter 0 has \(3, 2\)"):
        SGD(wrong, momentum=0.9).load_state_dict(opt.state_dict())


def test_load_state_dict_restores_hyper_parameters() -> None:
    source = Adam(_params(), lr=0.5, betas=(0.5, 0.6), weight_decay=0.1)
    target = Adam(_params())
    target.load_state_dict(source.state_dict())
    assert (target.lr, target.betas, target.weight_decay) == (0.5, (0.5, 0.6), 0.1)
