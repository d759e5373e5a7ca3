"""Learning-rate schedules: hand values, torch.optim.lr_scheduler parity, counters, state round trips."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest

from bigdl_runtime.optim import (Cosine, Exponential, MultiStep, Polynomial, ReduceLROnPlateau, Schedule, Step,
                                 Warmup)

BASE = 0.5


def _factors(schedule: Schedule, n: int, by: str = "epoch") -> list[float]:
    return [schedule.lr_factor(t if by == "iteration" else 0, t if by == "epoch" else 0, BASE) for t in range(n)]


@pytest.mark.parametrize("schedule, by, expected", [
    (Step(2, gamma=0.5), "epoch", [1, 1, 0.5, 0.5, 0.25]),
    (Step(3, gamma=0.1, by="iteration"), "iteration", [1, 1, 1, 0.1, 0.1]),
    (MultiStep([3, 1], gamma=0.5), "epoch", [1, 0.5, 0.5, 0.25, 0.25]),
    (Exponential(0.9, by="iteration"), "iteration", [1, 0.9, 0.81, 0.729, 0.6561]),
    (Polynomial(2.0, max_iteration=4), "iteration", [1, 0.5625, 0.25, 0.0625, 0, 0]),
    # eta_min = 0.1 is a fifth of BASE: 0.2 + 0.8 * (1 + cos(pi t / 2)) / 2, then flat at the floor
    (Cosine(2, eta_min=0.1), "epoch", [1, 0.6, 0.2, 0.2]),
    (Warmup(4), "iteration", [0, 0.25, 0.5, 0.75, 1, 1]),
    (Warmup(2, start_factor=0.5, then=Exponential(0.5, by="iteration")), "iteration", [0.5, 0.75, 1, 0.5, 0.25]),
])
def test_hand_values(schedule: Schedule, by: str, expected: list[float]) -> None:
    assert _factors(schedule, len(expected), by) == pytest.approx(expected, abs=1e-15)


def test_by_selects_the_counter() -> None:
    assert Step(1, gamma=0.5, by="epoch").lr_factor(iteration=7, epoch=2, base_lr=BASE) == 0.25
    assert Step(1, gamma=0.5, by="iteration").lr_factor(iteration=3, epoch=2, base_lr=BASE) == 0.125
    with pytest.raises(ValueError, match="Cosine: by must be one of"):
        Cosine(3, by="batch")


def _torch_lrs(make: Callable, n: int, metrics: list[float] | None = None) -> list[float]:
    import torch
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=BASE)
    sched = make(torch.optim.lr_scheduler, opt)
    lrs = []
    for t in range(n):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(*([] if metrics is None else [metrics[t]]))
    return lrs


@pytest.mark.parametrize("ours, theirs", [
    (Step(3, gamma=0.3), lambda s, o: s.StepLR(o, step_size=3, gamma=0.3)),
    (MultiStep([2, 5, 6], gamma=0.2), lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 6], gamma=0.2)),
    (Exponential(0.8), lambda s, o: s.ExponentialLR(o, gamma=0.8)),
    (Polynomial(1.5, max_iteration=7), lambda s, o: s.PolynomialLR(o, total_iters=7, power=1.5)),
    (Cosine(9, eta_min=0.05), lambda s, o: s.CosineAnnealingLR(o, T_max=9, eta_min=0.05)),
    (Warmup(5, start_factor=0.2), lambda s, o: s.LinearLR(o, start_factor=0.2, total_iters=5)),
    (Warmup(3, start_factor=0.1, then=Cosine(6, by="iteration")),
     lambda s, o: s.SequentialLR(o, [s.LinearLR(o, start_factor=0.1, total_iters=3), s.CosineAnnealingLR(o, T_max=6)],
                                 milestones=[3])),
])
def test_matches_torch_lr_scheduler(ours: Schedule, theirs: Callable) -> None:
    n = 10
    expected = _torch_lrs(theirs, n)
    by = "iteration" if isinstance(ours, (Polynomial, Warmup)) else "epoch"
    assert [BASE * f for f in _factors(ours, n, by)] == pytest.approx(expected, rel=1e-9, abs=1e-15)


def _run_epochs(schedule: Schedule, metrics: list[float]) -> list[float]:
    """The lr during each epoch (iteration = epoch index), then ``epoch_end`` with that epoch's metric."""
    lrs = []
    for epoch, metric in enumerate(metrics, start=1):
        lrs.append(BASE * schedule.lr_factor(epoch - 1, epoch - 1, BASE))
        schedule.epoch_end(epoch, metric, BASE)
    return lrs


PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.9, 0.91, 0.89999, 0.95, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]


@pytest.mark.parametrize("kwargs", [
    {"patience": 1},
    {"mode": "max", "factor": 0.5, "patience": 0, "cooldown": 2},
    {"patience": 2, "threshold": 0.05, "threshold_mode": "abs", "min_lr": 0.04},
    {"mode": "max", "factor": 0.3, "patience": 1, "threshold": 0.1, "threshold_mode": "abs"},
    {"factor": 0.5, "patience": 0, "min_lr": 0.1},
])
def test_plateau_matches_torch(kwargs: dict) -> None:
    metrics = [-m for m in PLATEAU_METRICS] if kwargs.get("mode") == "max" else PLATEAU_METRICS
    expected = _torch_lrs(lambda s, o: s.ReduceLROnPlateau(o, **kwargs), len(metrics), metrics)
    assert _run_epochs(ReduceLROnPlateau(**kwargs), metrics) == pytest.approx(expected, rel=1e-12)


def test_plateau_by_hand() -> None:
    plateau = ReduceLROnPlateau(factor=0.1, patience=1, cooldown=1, min_lr=0.004)
    # best 1.0; two bad epochs (> patience 1) -> x0.1; cooldown swallows one bad epoch; then 2 more bad -> floor
    lrs = _run_epochs(plateau, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    assert lrs == pytest.approx([0.5, 0.5, 0.5, 0.05, 0.05, 0.05, 0.005])
    assert BASE * plateau.scale == pytest.approx(0.005)
    _run_epochs(plateau, [1.0, 1.0, 1.0, 1.0])
    assert BASE * plateau.scale == pytest.approx(0.004)


@pytest.mark.parametrize("make", [
    lambda: ReduceLROnPlateau(mode="max", patience=1, cooldown=1),
    lambda: Warmup(2, then=ReduceLROnPlateau(patience=0)),
    lambda: MultiStep([1, 4], gamma=0.5, by="iteration"),
])
def test_state_dict_round_trip(make: Callable[[], Schedule]) -> None:
    first = make()
    _run_epochs(first, [3.0, 2.0, 2.0, 2.5])
    state = first.state_dict()
    assert all(isinstance(v, (bool, int, float, str, np.ndarray)) for v in state.values())
    second = make()
    second.load_state_dict(state)
    more = [2.0, 1.0, 1.0, 1.0, 1.0]
    assert _run_epochs(second, more) == _run_epochs(first, more)


def test_load_state_dict_checks_the_type() -> None:
    with pytest.raises(ValueError, match="cannot load a Step schedule state into Exponential"):
        Exponential(0.5).load_state_dict(Step(2).state_dict())
    with pytest.raises(ValueError, match="Warmup: the saved state has no 'then' schedule, this one has one"):
        Warmup(2, then=Step(1)).load_state_dict(Warmup(2).state_dict())


@pytest.mark.parametrize("make, message", [
    (lambda: Step(0), "step_size must be >= 1"),
    (lambda: Polynomial(1.0, 0), "max_iteration must be >= 1"),
    (lambda: Warmup(2, start_factor=2.0), r"start_factor must be in \[0, 1\]"),
    (lambda: ReduceLROnPlateau(mode="up"), "mode must be 'min' or 'max'"),
    (lambda: ReduceLROnPlateau(factor=1.0), r"factor must be in \(0, 1\)"),
])
def test_bad_arguments(make: Callable, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_cosine_closed_form_midpoint() -> None:
    assert Cosine(10).lr_factor(0, 5, BASE) == pytest.approx(0.5)
    assert Cosine(10, by="iteration").lr_factor(3, 0, BASE) == pytest.approx((1 + math.cos(0.3 * math.pi)) / 2)
