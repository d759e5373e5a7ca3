"""Triggers: each one on hand-made training states, combinations and iteration estimates."""
from __future__ import annotations

import math

import pytest

from bigdl_runtime.train import (EveryEpoch, MaxEpoch, MaxIteration, MaxScore, MinLoss, SeveralIteration,
                                 TrainState)


def state(**kw) -> TrainState:
    return TrainState(**kw)


@pytest.mark.parametrize("trigger, fired, quiet", [
    (EveryEpoch(), state(epoch=2, iteration=8, epoch_finished=True), state(epoch=2, iteration=7)),
    (SeveralIteration(3), state(iteration=6), state(iteration=7)),
    (MaxEpoch(2), state(epoch=2, epoch_finished=True), state(epoch=2, iteration=5)),
    (MaxEpoch(2), state(epoch=3), state(epoch=1, epoch_finished=True)),
    (MaxIteration(5), state(iteration=5), state(iteration=4)),
    (MinLoss(0.1), state(loss=0.05), state(loss=0.1)),
    (MaxScore(0.9), state(score=0.95), state(score=0.9)),
])
def test_trigger_fires_exactly_when_expected(trigger, fired, quiet):
    assert trigger(fired) is True
    assert trigger(quiet) is False


def test_fresh_state_fires_nothing_but_zero_limits():
    fresh = TrainState()
    assert math.isnan(fresh.loss) and fresh.score is None
    for t in (EveryEpoch(), SeveralIteration(1), MaxEpoch(1), MaxIteration(1), MinLoss(1e9), MaxScore(-1e9)):
        assert not t(fresh), t
    assert MaxIteration(0)(fresh) and MaxEpoch(0)(fresh)


def test_or_and_combine():
    either = MaxIteration(10) | MinLoss(0.5)
    both = SeveralIteration(2) & EveryEpoch()
    assert either(state(iteration=3, loss=0.4)) and either(state(iteration=10, loss=2.0))
    assert not either(state(iteration=3, loss=0.6))
    assert both(state(iteration=4, epoch_finished=True))
    assert not both(state(iteration=5, epoch_finished=True)) and not both(state(iteration=4))


@pytest.mark.parametrize("trigger, expected", [
    (MaxEpoch(3), 30), (MaxIteration(7), 7), (MaxEpoch(3) | MaxIteration(7), 7),
    (MaxEpoch(3) & MaxIteration(7), 30), (MaxEpoch(3) | MinLoss(0.1), 30),
    (MaxEpoch(3) & MinLoss(0.1), None), (EveryEpoch(), None),
])
def test_max_iterations_estimate(trigger, expected):
    assert trigger.max_iterations(10) == expected


def test_several_iteration_rejects_zero():
    with pytest.raises(ValueError, match="n >= 1"):
        SeveralIteration(0)


def test_state_round_trips_through_dict():
    s = state(epoch=3, iteration=17, records=500, epoch_records=20, epoch_finished=True, loss=0.25, score=0.8,
              wall_time=12.5)
    assert TrainState.from_dict(s.to_dict()) == s
    assert s.epochs_completed == 3 and state(epoch=3).epochs_completed == 2
