"""Elementwise merge layers with numpy broadcasting: Add (n inputs), Sub, Mul, Div.

The inputs come as separate arguments or as one tuple/list (the output of a
Split); ``backward`` returns one gradient per input, each of that input's shape.
"""
from __future__ import annotations

from typing import Callable, ClassVar

import numpy as np

from ...kernels import elementwise as K
from ..module import Module
from .shape import as_inputs, call_kernel


class _Merge(Module):
    """Base of the elementwise merges: one kernel pair over the inputs.

    Shape:
        - Inputs: tensors that broadcast together (numpy rules).
        - Output: their broadcast shape.
    """

    _kernel: ClassVar[tuple[Callable, Callable]]
    #: how many inputs the op takes (None: one or more)
    _arity: ClassVar[int | None] = 2

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name=name)
        self._cache = None

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        xs = as_inputs(inputs)
        if self._arity is not None and len(xs) != self._arity:
            raise ValueError(f"{self.describe()}: expected {self._arity} inputs, got {len(xs)}")
        y, self._cache = call_kernel(self, self._kernel[0], *xs)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray | tuple[np.ndarray, ...]:
        cache = self._need_cache(self._cache)
        grads = self._kernel[1](grad_output, cache)
        return grads[0] if len(grads) == 1 else grads  # one input: a plain gradient, as every layer


class Add(_Merge):
    """Sum of one or more inputs.

    Examples:
        >>> Add()(np.ones((2, 3)), np.ones((2, 3)), np.ones(3))[0]
        array([3., 3., 3.])
    """

    aliases = ("CAddTable",)
    _kernel = (K.add_forward, K.add_backward)
    _arity = None


class Sub(_Merge):
    """First input minus the second."""

    aliases = ("CSubTable",)
    _kernel = (K.sub_forward, K.sub_backward)


class Mul(_Merge):
    """Product of two inputs.

    Examples:
        >>> Mul()(np.full((2, 3), 2.0), np.arange(3.0))[0]
        array([0., 2., 4.])
    """

    aliases = ("CMulTable",)
    _kernel = (K.mul_forward, K.mul_backward)


class Div(_Merge):
    """First input divided by the second."""

    aliases = ("CDivTable",)
    _kernel = (K.div_forward, K.div_backward)
