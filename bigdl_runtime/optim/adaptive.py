"""Per-element adaptive optimizers: Adagrad, Adadelta, RMSprop (as their torch.optim namesakes)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..nn.module import Parameter
from .optimizer import Optimizer, PerParam, check_non_negative
from .schedules import Schedule


class Adagrad(Optimizer):
    """Adagrad: ``sum += g^2;  w -= lr / (1 + (t - 1) * lr_decay) * g / (sqrt(sum) + eps)``.

    Args:
        params: parameters to optimize.
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: starting value of ``sum``.
        eps: term added to the denominator.
        schedule, clip_norm, clip_value: see :class:`~bigdl_runtime.optim.optimizer.Optimizer`.
    """

    _hyper = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 schedule: Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None) -> None:
        super().__init__(params, lr, schedule=schedule, clip_norm=clip_norm, clip_value=clip_value)
        for key, value in (("lr_decay", lr_decay), ("weight_decay", weight_decay),
                           ("initial_accumulator_value", initial_accumulator_value), ("eps", eps)):
            check_non_negative(self, key, value)
        self.lr_decay = float(lr_decay)
        self.weight_decay = float(weight_decay)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.eps = float(eps)

    def _update(self, index: int, w: np.ndarray, g: np.ndarray, lr: float, state: PerParam) -> None:
        g = self._with_weight_decay(w, g, self.weight_decay)
        t = state["step"] = state.get("step", 0) + 1
        total = self._buffer(state, "sum", w, self.initial_accumulator_value)
        tmp = self._work(w, 1)
        np.multiply(g, g, out=tmp)
        total += tmp
        np.sqrt(total, out=tmp)
        tmp += self.eps
        np.divide(g, tmp, out=tmp)
        tmp *= lr / (1.0 + (t - 1) * self.lr_decay)
        w -= tmp


class Adadelta(Optimizer):
    """Adadelta::

        v = rho * v + (1 - rho) * g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta^2
        w -= lr * delta

    Args:
        params: parameters to optimize.
        lr: coefficient scaling ``delta``.
        rho: decay rate of the running averages.
        eps: term added inside the square roots.
        weight_decay: L2 penalty added to the gradient.
        schedule, clip_norm, clip_value: see :class:`~bigdl_runtime.optim.optimizer.Optimizer`.
    """

    _hyper = ("rho", "eps", "weight_decay")

    def __init__(self, params: Iterable[Parameter], lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, schedule: Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None) -> None:
        super().__init__(params, lr, schedule=schedule, clip_norm=clip_norm, clip_value=clip_value)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: rho must be in [0, 1], got {rho}")
        check_non_negative(self, "eps", eps)
        check_non_negative(self, "weight_decay", weight_decay)
        self.rho = float(rho)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)

    def _update(self, index: int, w: np.ndarray, g: np.ndarray, lr: float, state: PerParam) -> None:
        g = self._with_weight_decay(w, g, self.weight_decay)
        rho = self.rho
        square_avg = self._buffer(state, "square_avg", w)
        acc_delta = self._buffer(state, "acc_delta", w)
        delta, tmp = self._work(w, 1), self._work(w, 2)
        square_avg *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - rho
        square_avg += tmp
        np.add(square_avg, self.eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.add(acc_delta, self.eps, out=delta)
        np.sqrt(delta, out=delta)
        delta /= tmp
        delta *= g
        acc_delta *= rho
        np.multiply(delta, delta, out=tmp)
        tmp *= 1.0 - rho
        acc_delta += tmp
        delta *= lr
        w -= delta


class RMSprop(Optimizer):
    """RMSprop::

        v = alpha * v + (1 - alpha) * g^2
        avg = sqrt(v - gbar^2) + eps  with gbar = alpha * gbar + (1 - alpha) * g  if centered, else sqrt(v) + eps
        buf = momentum * buf + g / avg;  w -= lr * buf     (w -= lr * g / avg without momentum)

    Args:
        params: parameters to optimize.
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: term added to the denominator.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor.
        centered: normalise by the estimated variance instead of the raw second moment.
        schedule, clip_norm, clip_value: see :class:`~bigdl_runtime.optim.optimizer.Optimizer`.
    """

    _hyper = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 schedule: Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None) -> None:
        super().__init__(params, lr, schedule=schedule, clip_norm=clip_norm, clip_value=clip_value)
        for key, value in (("alpha", alpha), ("eps", eps), ("weight_decay", weight_decay), ("momentum", momentum)):
            check_non_negative(self, key, value)
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.momentum = float(momentum)
        self.centered = bool(centered)

    def _update(self, index: int, w: np.ndarray, g: np.ndarray, lr: float, state: PerParam) -> None:
        g = self._with_weight_decay(w, g, self.weight_decay)
        alpha = self.alpha
        square_avg = self._buffer(state, "square_avg", w)
        avg, tmp = self._work(w, 1), self._work(w, 2)
        square_avg *= alpha
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - alpha
        square_avg += tmp
        if self.centered:
            grad_avg = self._buffer(state, "grad_avg", w)
            grad_avg *= alpha
            np.multiply(g, 1.0 - alpha, out=tmp)
            grad_avg += tmp
            np.multiply(grad_avg, grad_avg, out=tmp)
            np.subtract(square_avg, tmp, out=avg)
            np.sqrt(avg, out=avg)
        else:
            np.sqrt(square_avg, out=avg)
        avg += self.eps
        np.divide(g, avg, out=tmp)
        if self.momentum:
            buf = self._buffer(state, "momentum_buffer", w)
            buf *= self.momentum
            buf += tmp
            np.multiply(buf, lr, out=tmp)
        else:
            tmp *= lr
        w -= tmp
