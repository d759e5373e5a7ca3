"""Indicator layers: Hardmax, OneHot, NonZero, Unique (see :mod:`bigdl_runtime.kernels.indicator`).

Their outputs are piecewise constant in the inputs (or integer positions), so they
have **no gradient**: ``backward`` returns ``None`` (the Graph's "nothing flows here").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import indicator as K
from .math import _Boolean


class Hardmax(_Boolean):
    """1 at the first maximum along ``axis``, 0 elsewhere (ONNX Hardmax from opset 13).

    Args:
        axis: the axis compared along. Default: -1.

    Examples:
        >>> Hardmax()(np.array([[1.0, 3.0, 3.0]]))
        array([[0., 1., 0.]])
    """

    _arity = 1

    def __init__(self, axis: int = -1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = int(axis)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.hardmax(xs[0], self.axis)


class OneHot(_Boolean):
    """One-hot encoding of integer indices along a new ``axis`` (ONNX OneHot, ``torch.nn.functional.one_hot``).

    Args:
        depth: the number of classes.
        off, on: the values written (their type is the output's). Default: 0 and 1 (int64).
        axis: where the new axis goes in the output. Default: -1.

    Examples:
        >>> OneHot(3)(np.array([0, 2, -1]))
        array([[1, 0, 0],
               [0, 0, 1],
               [0, 0, 1]])
    """

    _arity = 1

    def __init__(self, depth: int, off: float = 0, on: float = 1, dtype: str = "int64", axis: int = -1,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.depth, self.axis, self.dtype = int(depth), int(axis), str(np.dtype(dtype))
        self.off, self.on = np.asarray(off, self.dtype).item(), np.asarray(on, self.dtype).item()

    def get_config(self) -> dict[str, Any]:
        return {"depth": self.depth, "off": self.off, "on": self.on, "dtype": self.dtype, "axis": self.axis}

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.one_hot(xs[0], self.depth, np.asarray(self.off, self.dtype), np.asarray(self.on, self.dtype),
                         self.axis)


class NonZero(_Boolean):
    """The int64 coordinates of the non-zero elements, shape ``(rank, count)`` (ONNX NonZero)."""

    _arity = 1

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.nonzero(xs[0])


class Unique(_Boolean):
    """The distinct values (or slices along ``axis``) and their first indices, inverse indices and counts
    (ONNX Unique, ``torch.unique``); four outputs.

    Args:
        axis: compare slices along this axis; None (default) compares elements of the flattened input.
        sorted: ascending order (default) or the order of first occurrence.

    Examples:
        >>> Unique(sorted=False)(np.array([2, 1, 2]))[0]
        array([2, 1])
    """

    _arity = 1

    def __init__(self, axis: int | None = None, sorted: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = None if axis is None else int(axis)
        self.sorted = bool(sorted)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "sorted": self.sorted}

    def _compute(self, xs: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        return K.unique(xs[0], self.axis, self.sorted)
