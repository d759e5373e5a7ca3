"""Gradient clipping by global L2 norm and by value, in place.

The public functions take Parameters (only trainable ones are touched); the
optimizers call the array versions on the gradients they are about to apply.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

import numpy as np

from ..nn.module import Parameter


def global_norm(grads: Sequence[np.ndarray]) -> float:
    """The L2 norm of all ``grads`` taken together, as one vector."""
    return math.sqrt(sum(float(np.vdot(g, g)) for g in grads))


def scale_to_norm(grads: Sequence[np.ndarray], max_norm: float,
                  norm_of: Callable[[Sequence[np.ndarray]], float] = global_norm) -> float:
    """Scale ``grads`` in place by ``max_norm / (norm + 1e-6)`` when that is below 1; return the norm.

    ``norm_of`` computes the norm (default :func:`global_norm` of ``grads`` alone).
    """
    if max_norm <= 0:
        raise ValueError(f"clip norm must be > 0, got {max_norm}")
    norm = norm_of(grads)
    coef = max_norm / (norm + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= coef
    return norm


def clamp(grads: Sequence[np.ndarray], clip: float) -> None:
    """Clamp every element of ``grads`` to ``[-clip, clip]`` in place."""
    if clip <= 0:
        raise ValueError(f"clip value must be > 0, got {clip}")
    for g in grads:
        np.clip(g, -clip, clip, out=g)


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Rescale the gradients of the trainable ``params`` so their global L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the gradients are multiplied by
    ``max_norm / (total_norm + 1e-6)`` when that factor is below 1.

    Returns:
        The total norm before clipping.
    """
    return scale_to_norm([p.grad for p in params if p.trainable], max_norm)


def clip_grad_value(params: Iterable[Parameter], clip: float) -> None:
    """Clamp the gradients of the trainable ``params`` to ``[-clip, clip]`` in place."""
    clamp([p.grad for p in params if p.trainable], clip)
