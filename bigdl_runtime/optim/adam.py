"""Adam and AdamW (as torch.optim.Adam / AdamW, including AMSGrad)."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from ..nn.module import Parameter
from .optimizer import Optimizer, PerParam, check_non_negative
from .schedules import Schedule


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` is an L2 term added to the gradient::

        m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g^2     (v_hat = max(v_hat, v) with amsgrad)
        w -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)

    Args:
        params: parameters to optimize.
        lr: learning rate.
        betas: decay rates (b1, b2) of the first and second moment estimates.
        eps: term added to the denominator.
        weight_decay: L2 penalty added to the gradient.
        amsgrad: use the running maximum of ``v`` (AMSGrad).
        schedule, clip_norm, clip_value: see :class:`~bigdl_runtime.optim.optimizer.Optimizer`.

    Examples:
        >>> opt = Adam(model.parameters(), lr=1e-3)
    """

    _hyper = ("betas", "eps", "weight_decay", "amsgrad")
    _decoupled = False

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False,
                 schedule: Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None) -> None:
        super().__init__(params, lr, schedule=schedule, clip_norm=clip_norm, clip_value=clip_value)
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"{type(self).__name__}: betas must be two values in [0, 1), got {betas}")
        check_non_negative(self, "eps", eps)
        check_non_negative(self, "weight_decay", weight_decay)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)

    def _update(self, index: int, w: np.ndarray, g: np.ndarray, lr: float, state: PerParam) -> None:
        b1, b2 = self.betas
        if self._decoupled:
            w *= 1.0 - lr * self.weight_decay
        else:
            g = self._with_weight_decay(w, g, self.weight_decay)
        t = state["step"] = state.get("step", 0) + 1
        m = self._buffer(state, "exp_avg", w)
        v = self._buffer(state, "exp_avg_sq", w)
        tmp = self._work(w, 1)
        m *= b1
        np.multiply(g, 1.0 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - b2
        v += tmp
        if self.amsgrad:
            v_max = self._buffer(state, "max_exp_avg_sq", w)
            np.maximum(v_max, v, out=v_max)
            v = v_max
        np.sqrt(v, out=tmp)
        tmp /= math.sqrt(1.0 - b2 ** t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= lr / (1.0 - b1 ** t)
        w -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: ``w *= 1 - lr * weight_decay`` before the Adam step.

    Same arguments as :class:`Adam`, with ``weight_decay=1e-2`` by default.
    """

    _decoupled = True

    def __init__(self, params: Iterable[Parameter], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False,
                 schedule: Schedule | None = None, clip_norm: float | None = None,
                 clip_value: float | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         schedule=schedule, clip_norm=clip_norm, clip_value=clip_value)
