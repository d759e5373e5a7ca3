"""Dropout: inverted dropout driven by the runtime's seeded generator."""
from __future__ import annotations

from typing import Any


from ...kernels.dropout import dropout_backward, dropout_forward
from .. import random
from ..kernel_layer import _KernelLayer


class Dropout(_KernelLayer):
    """Zero each element with probability ``p`` during training and scale the rest by ``1 / (1 - p)``.

    In evaluation mode the layer is the identity. The mask is drawn from
    :func:`bigdl_runtime.nn.random.rng`, so ``manual_seed`` makes it reproducible.

    Args:
        p: probability of an element being zeroed, in ``[0, 1]``.
        name: optional layer name.

    Shape:
        - Input: any.
        - Output: same as the input.

    Examples:
        >>> drop = Dropout(0.2)
        >>> y = drop(np.ones((20, 16), np.float32))   # ~20% zeros, the rest 1.25
        >>> y = drop.evaluate()(np.ones((20, 16), np.float32))   # identity
    """

    deterministic = False  # draws its mask (training mode)

    _kernels = (dropout_forward, dropout_backward)

    def __init__(self, p: float = 0.5, name: str | None = None) -> None:
        super().__init__(name=name)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def _kernel_config(self) -> dict[str, Any]:
        return {"p": self.p, "training": self.training, "rng": random.rng()}

    def get_config(self) -> dict[str, Any]:
        return {"p": self.p}
