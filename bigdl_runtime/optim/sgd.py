"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (as torch.optim.SGD)."""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..nn.module import Parameter
from .optimizer import Optimizer, PerParam, check_non_negative
from .schedules import Schedule


class SGD(Optimizer):
    """SGD, with PyTorch's update rule::

        g = grad + weight_decay * w
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g = g + momentum * buf  if nesterov else buf   (when momentum > 0)
        w -= lr * g

    Args:
        params: parameters to optimize.
        lr: learning rate.
        momentum: momentum factor.
        dampening: dampening of the momentum.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
        weight_decay: L2 penalty added to the gradient.
        schedule, clip_norm, clip_value: see :class:`~bigdl_runtime.optim.optimizer.Optimizer`.

    Examples:
        >>> opt = SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
        >>> model.zero_grad(); loss.backward(...); opt.step()
    """

    _hyper = ("momentum", "dampening", "nesterov", "weight_decay")

    def __init__(self, params: Iterable[Parameter], lr: float = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
                 schedule: Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None) -> None:
        super().__init__(params, lr, schedule=schedule, clip_norm=clip_norm, clip_value=clip_value)
        check_non_negative(self, "momentum", momentum)
        check_non_negative(self, "weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        self.momentum = float(momentum)
        self.dampening = float(dampening)
        self.nesterov = bool(nesterov)
        self.weight_decay = float(weight_decay)

    def _update(self, index: int, w: np.ndarray, g: np.ndarray, lr: float, state: PerParam) -> None:
        g = self._with_weight_decay(w, g, self.weight_decay)
        step = self._work(w, 1)
        if self.momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, copy=True)
            else:
                buf *= self.momentum
                if self.dampening:
                    np.multiply(g, 1.0 - self.dampening, out=step)
                    buf += step
                else:  # the usual case: no scaled copy of the gradient
                    buf += g
            if self.nesterov:
                np.multiply(buf, self.momentum, out=step)
                step += g
                g = step
            else:
                g = buf
        np.multiply(g, lr, out=step)
        w -= step
