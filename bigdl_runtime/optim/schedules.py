"""Learning-rate schedules: a multiplier of the optimizer's base learning rate.

A schedule is passed to an optimizer as ``schedule=``; the optimizer's
``current_lr`` is ``lr * schedule.lr_factor(iteration, epoch, lr)`` where
``iteration`` counts the optimizer's steps so far and ``epoch`` the completed
epochs (both start at 0). Schedules with ``by="iteration"`` follow the step
count, ``by="epoch"`` the epoch count. ``epoch_end`` lets a schedule react to
the end of an epoch (ReduceLROnPlateau watches a validation metric).

``state_dict()`` / ``load_state_dict()`` hold the whole schedule (config and
mutable state) as plain values and numpy arrays; a nested schedule's keys
are prefixed with ``then.``.
"""
from __future__ import annotations

import bisect
import math
from typing import Any, Sequence

import numpy as np

UNITS = ("epoch", "iteration")


class Schedule:
    """Base class: subclasses implement ``lr_factor`` and list their attributes in ``_fields``."""

    _fields: tuple[str, ...] = ()

    def lr_factor(self, iteration: int, epoch: int, base_lr: float) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not implement lr_factor")

    def epoch_end(self, epoch: int, metric: float | None, base_lr: float) -> None:
        """Called by the optimizer when epoch number ``epoch`` (1-based) has finished."""

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"type": type(self).__name__}
        for key in self._fields:
            value = getattr(self, key)
            state[key] = np.array(value) if isinstance(value, (list, tuple)) else value
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"cannot load a {state.get('type')} schedule state into {type(self).__name__}")
        for key in self._fields:
            value = state[key]
            setattr(self, key, value.tolist() if isinstance(value, np.ndarray) else value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={getattr(self, k)!r}' for k in self._fields)})"


class _Counted(Schedule):
    """A schedule driven by one counter, the iteration or the epoch."""

    def __init__(self, by: str) -> None:
        if by not in UNITS:
            raise ValueError(f"{type(self).__name__}: by must be one of {UNITS}, got {by!r}")
        self.by = by

    def lr_factor(self, iteration: int, epoch: int, base_lr: float) -> float:
        return self._at(iteration if self.by == "iteration" else epoch, base_lr)

    def _at(self, t: int, base_lr: float) -> float:
        raise NotImplementedError


class Step(_Counted):
    """``gamma ** (t // step_size)`` (PyTorch's StepLR).

    Examples:
        >>> opt = SGD(params, lr=0.1, schedule=Step(30, gamma=0.1))  # 0.1, then 0.01 from epoch 30
    """

    _fields = ("step_size", "gamma", "by")

    def __init__(self, step_size: int, gamma: float = 0.1, by: str = "epoch") -> None:
        super().__init__(by)
        if step_size < 1:
            raise ValueError(f"Step: step_size must be >= 1, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = float(gamma)

    def _at(self, t: int, base_lr: float) -> float:
        return self.gamma ** (t // self.step_size)


class MultiStep(_Counted):
    """``gamma ** (number of milestones <= t)`` (PyTorch's MultiStepLR)."""

    _fields = ("milestones", "gamma", "by")

    def __init__(self, milestones: Sequence[int], gamma: float = 0.1, by: str = "epoch") -> None:
        super().__init__(by)
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)

    def _at(self, t: int, base_lr: float) -> float:
        return self.gamma ** bisect.bisect_right(self.milestones, t)


class Exponential(_Counted):
    """``gamma ** t`` (PyTorch's ExponentialLR)."""

    _fields = ("gamma", "by")

    def __init__(self, gamma: float, by: str = "epoch") -> None:
        super().__init__(by)
        self.gamma = float(gamma)

    def _at(self, t: int, base_lr: float) -> float:
        return self.gamma ** t


class Polynomial(Schedule):
    """``(1 - min(iteration, max_iteration) / max_iteration) ** power`` (BigDL's Poly, PyTorch's PolynomialLR)."""

    _fields = ("power", "max_iteration")

    def __init__(self, power: float, max_iteration: int) -> None:
        if max_iteration < 1:
            raise ValueError(f"Polynomial: max_iteration must be >= 1, got {max_iteration}")
        self.power = float(power)
        self.max_iteration = int(max_iteration)

    def lr_factor(self, iteration: int, epoch: int, base_lr: float) -> float:
        return (1.0 - min(iteration, self.max_iteration) / self.max_iteration) ** self.power


class Cosine(_Counted):
    """Cosine annealing from the base lr to ``eta_min`` (an absolute lr) over ``t_max`` steps.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / t_max)) / 2``, as
    PyTorch's CosineAnnealingLR up to ``t_max``; afterwards it stays at ``eta_min``.
    """

    _fields = ("t_max", "eta_min", "by")

    def __init__(self, t_max: int, eta_min: float = 0.0, by: str = "epoch") -> None:
        super().__init__(by)
        if t_max < 1:
            raise ValueError(f"Cosine: t_max must be >= 1, got {t_max}")
        self.t_max = int(t_max)
        self.eta_min = float(eta_min)

    def _at(self, t: int, base_lr: float) -> float:
        floor = self.eta_min / base_lr if base_lr else 0.0
        return floor + (1.0 - floor) * (1.0 + math.cos(math.pi * min(t, self.t_max) / self.t_max)) / 2.0


class Warmup(Schedule):
    """Linear warmup over the first ``warmup_iterations`` steps, then another schedule.

    The factor rises linearly from ``start_factor`` at iteration 0 towards 1
    (PyTorch's LinearLR); from iteration ``warmup_iterations`` on it is
    ``then``'s factor with the iteration count restarted at 0 (as PyTorch's
    SequentialLR), or 1 when ``then`` is None. Epochs are passed through.

    Examples:
        >>> Warmup(500, then=Cosine(10_000, by="iteration"))
    """

    _fields = ("warmup_iterations", "start_factor")

    def __init__(self, warmup_iterations: int, then: Schedule | None = None, start_factor: float = 0.0) -> None:
        if warmup_iterations < 0:
            raise ValueError(f"Warmup: warmup_iterations must be >= 0, got {warmup_iterations}")
        if not 0.0 <= start_factor <= 1.0:
            raise ValueError(f"Warmup: start_factor must be in [0, 1], got {start_factor}")
        self.warmup_iterations = int(warmup_iterations)
        self.then = then
        self.start_factor = float(start_factor)

    def lr_factor(self, iteration: int, epoch: int, base_lr: float) -> float:
        if iteration < self.warmup_iterations:
            return self.start_factor + (1.0 - self.start_factor) * iteration / self.warmup_iterations
        if self.then is None:
            return 1.0
        return self.then.lr_factor(iteration - self.warmup_iterations, epoch, base_lr)

    def epoch_end(self, epoch: int, metric: float | None, base_lr: float) -> None:
        if self.then is not None:
            self.then.epoch_end(epoch, metric, base_lr)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.then is not None:
            state.update({f"then.{k}": v for k, v in self.then.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        nested = {k[len("then."):]: v for k, v in state.items() if k.startswith("then.")}
        if (self.then is None) != (not nested):
            raise ValueError(f"Warmup: the saved state {'has' if nested else 'has no'} 'then' schedule, "
                             f"this one {'has none' if self.then is None else 'has one'}")
        if self.then is not None:
            self.then.load_state_dict(nested)

    def __repr__(self) -> str:
        return f"Warmup({self.warmup_iterations}, then={self.then!r}, start_factor={self.start_factor})"


class ReduceLROnPlateau(Schedule):
    """Multiply the lr by ``factor`` when the metric passed to ``epoch_end`` stops improving.

    Same rules as PyTorch's ReduceLROnPlateau: a metric better than the best
    so far by more than ``threshold`` (relative, or absolute with
    ``threshold_mode="abs"``) resets the count of bad epochs; after more than
    ``patience`` bad epochs the lr is reduced (never below ``min_lr``, an
    absolute lr) and ``cooldown`` epochs pass before bad epochs count again.

    Args:
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: multiplier applied at each reduction, < 1.
        patience: bad epochs tolerated before reducing.
        threshold: minimal improvement that counts.
        cooldown: epochs to wait after a reduction.
        min_lr: lower bound of the learning rate.
        threshold_mode: ``"rel"`` | ``"abs"``.
        eps: reductions smaller than this are skipped.
    """

    _fields = ("mode", "factor", "patience", "threshold", "cooldown", "min_lr", "threshold_mode", "eps",
               "scale", "best", "num_bad_epochs", "cooldown_counter")

    def __init__(self, mode: str = "min", factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0, threshold_mode: str = "rel", eps: float = 1e-8) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be in (0, 1), got {factor}")
        self.mode = mode
        self.factor = float(factor)
        self.patience = int(patience)
        self.threshold = float(threshold)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.threshold_mode = threshold_mode
        self.eps = float(eps)
        self.scale = 1.0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def lr_factor(self, iteration: int, epoch: int, base_lr: float) -> float:
        return self.scale

    def _better(self, metric: float) -> bool:
        sign = 1.0 if self.mode == "max" else -1.0
        if self.threshold_mode == "rel":
            return sign * metric > sign * self.best * (1.0 + sign * self.threshold)
        return sign * metric > sign * (self.best + sign * self.threshold)

    def epoch_end(self, epoch: int, metric: float | None, base_lr: float) -> None:
        if metric is None:
            raise ValueError(f"ReduceLROnPlateau needs a metric: call epoch_end({epoch}, metric=...)")
        metric = float(metric)
        if self._better(metric):
            self.best = metric
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            old = base_lr * self.scale
            new = max(old * self.factor, self.min_lr)
            if old - new > self.eps:
                self.scale = new / base_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
