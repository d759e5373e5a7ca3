"""L1 / L2 weight penalties attached to Parameters and applied by the optimizers.

``Parameter.regularizer`` holds one of these; at every ``step`` the
optimizer adds ``regularizer.grad(p.data)`` to ``p.grad`` (before clipping).
As in BigDL, the L2 gradient is ``l2 * w``, so the penalty is ``l2 / 2 * ||w||^2``.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..nn.module import Module


class L1L2:
    """Penalty ``l1 * sum|w| + l2 / 2 * sum w^2`` with gradient ``l1 * sign(w) + l2 * w``.

    Args:
        l1: L1 coefficient, >= 0.
        l2: L2 coefficient, >= 0.

    Examples:
        >>> reg = L1L2(l1=1e-4, l2=1e-3)
        >>> reg.grad(np.array([-2.0, 0.0, 3.0]))
        array([-0.0021,  0.    ,  0.0031])
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        if l1 < 0 or l2 < 0:
            raise ValueError(f"{type(self).__name__}: coefficients must be >= 0, got l1={l1}, l2={l2}")
        self.l1 = float(l1)
        self.l2 = float(l2)

    def penalty(self, w: np.ndarray) -> float:
        """The value added to the loss for weights ``w``."""
        return self.l1 * float(np.abs(w).sum()) + 0.5 * self.l2 * float(np.vdot(w, w))

    def grad(self, w: np.ndarray) -> np.ndarray:
        """d penalty / d w, a new array of ``w``'s dtype."""
        g = np.multiply(w, self.l2) if self.l2 else np.zeros_like(w)
        if self.l1:
            g += self.l1 * np.sign(w)
        return g

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1}, l2={self.l2})"


class L1(L1L2):
    """L1 penalty ``l1 * sum|w|`` (gradient ``l1 * sign(w)``)."""

    def __init__(self, l1: float) -> None:
        super().__init__(l1=l1, l2=0.0)

    def __repr__(self) -> str:
        return f"L1(l1={self.l1})"


class L2(L1L2):
    """L2 penalty ``l2 / 2 * sum w^2`` (gradient ``l2 * w``)."""

    def __init__(self, l2: float) -> None:
        super().__init__(l1=0.0, l2=l2)

    def __repr__(self) -> str:
        return f"L2(l2={self.l2})"


def set_regularizer(module: Module, regularizer: L1L2 | None, layers: Iterable[str] | str | None = None,
                    include_bias: bool = False) -> list[str]:
    """Attach ``regularizer`` to the weights of ``module``'s layers (``None`` removes it).

    Args:
        module: the model.
        regularizer: an :class:`L1`, :class:`L2` or :class:`L1L2`, or ``None``.
        layers: sub-layer paths as in ``named_modules()`` (e.g. ``"0"``,
            ``"features.conv1"``) or layer ``name``s; every parameter under
            them is covered. ``None`` means the whole model.
        include_bias: also regularize parameters whose name starts with ``bias``.

    Returns:
        The dotted names of the parameters that were set.

    Raises:
        KeyError: a name in ``layers`` matches no sub-layer.
    """
    modules = list(module.named_modules())
    if layers is None:
        chosen = [("", module)]
    else:
        chosen = []
        for want in [layers] if isinstance(layers, str) else list(layers):
            hits = [(path, m) for path, m in modules if path == want or (m.name is not None and m.name == want)]
            if not hits:
                known = sorted(path for path, _ in modules if path)
                raise KeyError(f"{module.describe()}: no layer named '{want}'; known layers: {known}")
            chosen.extend(hits)
    done: dict[str, None] = {}
    for path, layer in chosen:
        for key, p in layer.named_parameters(path):
            if include_bias or not key.rsplit(".", 1)[-1].startswith("bias"):
                p.regularizer = regularizer
                done[key] = None
    return list(done)
