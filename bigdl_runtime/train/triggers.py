"""Training state and triggers (BigDL's ``Trigger``): when to stop, validate or checkpoint.

A trigger is a predicate on the :class:`TrainState` a trainer updates after every
iteration. Both the local and the distributed trainer keep the same state, so
the same triggers drive both. Triggers combine with ``|`` (either) and ``&``
(both)::

    end = MaxEpoch(20) | MinLoss(0.01)
    every_500_or_epoch = SeveralIteration(500) | EveryEpoch()
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainState:
    """Where a training run is; what triggers look at and checkpoints save.

    Attributes:
        epoch: 1-based index of the epoch being trained (or just finished).
        iteration: number of completed iterations (optimizer steps).
        records: samples processed since the run started.
        epoch_records: samples processed in the current epoch (the position in
            the epoch's permutation).
        epoch_finished: True right after the iteration that completed ``epoch``;
            the next iteration starts epoch ``epoch + 1``.
        loss: loss of the last iteration (NaN before the first).
        score: first metric of the last validation (None before any).
        wall_time: seconds spent training so far, carried across resumes.
    """

    epoch: int = 1
    iteration: int = 0
    records: int = 0
    epoch_records: int = 0
    epoch_finished: bool = False
    loss: float = math.nan
    score: float | None = None
    wall_time: float = 0.0

    @property
    def epochs_completed(self) -> int:
        return self.epoch if self.epoch_finished else self.epoch - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainState":
        state = cls()
        for key in asdict(state):
            if key in values:
                setattr(state, key, values[key])
        state.epoch, state.iteration = int(state.epoch), int(state.iteration)
        state.records, state.epoch_records = int(state.records), int(state.epoch_records)
        state.epoch_finished = bool(state.epoch_finished)
        state.loss, state.wall_time = float(state.loss), float(state.wall_time)
        state.score = None if state.score is None else float(state.score)
        return state


class Trigger:
    """A predicate on :class:`TrainState`; subclasses implement ``__call__``."""

    def __call__(self, state: TrainState) -> bool:
        raise NotImplementedError

    def max_iterations(self, iterations_per_epoch: int) -> int | None:
        """Iterations after which this trigger certainly fires, if that is known (for ETAs)."""
        return None

    def __or__(self, other: "Trigger") -> "Trigger":
        return Or(self, other)

    def __and__(self, other: "Trigger") -> "Trigger":
        return And(self, other)


@dataclass(repr=True)
class EveryEpoch(Trigger):
    """Fires after the last iteration of every epoch."""

    def __call__(self, state: TrainState) -> bool:
        return state.epoch_finished


@dataclass(repr=True)
class SeveralIteration(Trigger):
    """Fires every ``n`` iterations (after iteration n, 2n, ...)."""

    n: int

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"SeveralIteration needs n >= 1, got {self.n}")

    def __call__(self, state: TrainState) -> bool:
        return state.iteration > 0 and state.iteration % self.n == 0


@dataclass(repr=True)
class MaxEpoch(Trigger):
    """Fires once ``n`` epochs are complete (an end trigger)."""

    n: int

    def __call__(self, state: TrainState) -> bool:
        return state.epochs_completed >= self.n

    def max_iterations(self, iterations_per_epoch: int) -> int | None:
        return self.n * iterations_per_epoch


@dataclass(repr=True)
class MaxIteration(Trigger):
    """Fires once ``n`` iterations are done (an end trigger)."""

    n: int

    def __call__(self, state: TrainState) -> bool:
        return state.iteration >= self.n

    def max_iterations(self, iterations_per_epoch: int) -> int | None:
        return self.n


@dataclass(repr=True)
class MinLoss(Trigger):
    """Fires when the last iteration's loss is below ``value``."""

    value: float

    def __call__(self, state: TrainState) -> bool:
        return state.loss < self.value


@dataclass(repr=True)
class MaxScore(Trigger):
    """Fires when the last validation score (the first metric) is above ``value``."""

    value: float

    def __call__(self, state: TrainState) -> bool:
        return state.score is not None and state.score > self.value


@dataclass(repr=True)
class Or(Trigger):
    """Fires when any of ``triggers`` fires (``a | b``)."""

    triggers: tuple[Trigger, ...] = field(default=())

    def __init__(self, *triggers: Trigger) -> None:
        self.triggers = triggers

    def __call__(self, state: TrainState) -> bool:
        return any(t(state) for t in self.triggers)

    def max_iterations(self, iterations_per_epoch: int) -> int | None:
        known = [m for t in self.triggers if (m := t.max_iterations(iterations_per_epoch)) is not None]
        return min(known) if known else None


@dataclass(repr=True)
class And(Trigger):
    """Fires when all of ``triggers`` fire (``a & b``)."""

    triggers: tuple[Trigger, ...] = field(default=())

    def __init__(self, *triggers: Trigger) -> None:
        self.triggers = triggers

    def __call__(self, state: TrainState) -> bool:
        return all(t(state) for t in self.triggers)

    def max_iterations(self, iterations_per_epoch: int) -> int | None:
        known = [t.max_iterations(iterations_per_epoch) for t in self.triggers]
        return None if None in known else max(known)
