"""The base of every loss and the input checks they share.

A loss is a :class:`~bigdl_runtime.nn.module.Module` (so it is registered by
name and rebuilt from ``get_config()``) with a different calling convention
from layers: ``forward(output, target) -> float`` and
``backward(output, target) -> grad`` with respect to ``output``, in the
dtype of ``output``. Both are pure functions of their arguments, so backward
needs no preceding forward.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..module import Module

REDUCTIONS = ("mean", "sum")


class Loss(Module):
    """Base class of the losses.

    Args:
        reduction: ``"mean"`` averages the per-element losses (a weighted
            mean for the class-weighted losses, as in PyTorch), ``"sum"``
            adds them.
        name: optional module name.
    """

    def __init__(self, reduction: str = "mean", name: str | None = None) -> None:
        super().__init__(name=name)
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, output: np.ndarray, target: np.ndarray) -> float:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, output: np.ndarray, target: np.ndarray) -> np.ndarray:  # type: ignore[override]
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}

    # ---------------------------------------------------------------- helpers
    def _scale(self, count: int) -> float:
        """Factor turning a sum over ``count`` elements into the reduced loss."""
        return 1.0 / count if self.reduction == "mean" and count > 0 else 1.0

    def _floating(self, output: Any) -> np.ndarray:
        output = np.asarray(output)
        if not np.issubdtype(output.dtype, np.floating):
            raise ValueError(f"{self.describe()}: output must be floating point, got {output.dtype}")
        return output

    def _pair(self, output: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
        """Output and a target of the same shape, the target cast to the output's dtype."""
        output = self._floating(output)
        target = np.asarray(target)
        if target.shape != output.shape:
            raise ValueError(f"{self.describe()}: target shape {target.shape} does not match "
                             f"output shape {output.shape}")
        return output, target.astype(output.dtype, copy=False)

    def _broadcast_weight(self, weight: np.ndarray | None, shape: tuple[int, ...], what: str,
                          dtype: np.dtype) -> np.ndarray | None:
        if weight is None:
            return None
        try:
            np.broadcast_shapes(weight.shape, shape)
        except ValueError:
            raise ValueError(f"{self.describe()}: {what} of shape {weight.shape} does not broadcast "
                             f"to output shape {shape}") from None
        return weight.astype(dtype, copy=False)


def as_weight(weight: Sequence[float] | np.ndarray | None) -> np.ndarray | None:
    """A user-given weight (list or array) as a float64 array, or None."""
    return None if weight is None else np.array(weight, dtype=np.float64)


def weight_config(weight: np.ndarray | None) -> list[Any] | None:
    return None if weight is None else weight.tolist()


def first_bad(mask: np.ndarray) -> str:
    """The index of the first True in ``mask`` as text, e.g. ``[3]`` or ``[1, 0, 2]``."""
    index = np.unravel_index(int(np.argmax(mask)), mask.shape)
    return "[" + ", ".join(str(int(i)) for i in index) + "]"
