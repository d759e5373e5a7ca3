"""Elementwise merge layers with numpy broadcasting: Add (n inputs), Sub, Mul, Div.

The inputs come as separate arguments or as one tuple/list (the output of a
Split); ``backward`` returns one gradient per input, each of that input's shape.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...kernels import elementwise as K
from ..kernel_layer import _KernelLayer, as_inputs


class _Merge(_KernelLayer):
    """Base of the elementwise merges: one kernel pair over the inputs.

    Shape:
        - Inputs: tensors that broadcast together (numpy rules).
        - Output: their broadcast shape.
    """

    #: how many inputs the op takes (None: one or more)
    _arity: ClassVar[int | None] = 2

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        xs = as_inputs(inputs)
        if self._arity is not None and len(xs) != self._arity:
            raise ValueError(f"{self.describe()}: expected {self._arity} inputs, got {len(xs)}")
        return super().forward_pass(*xs)


class Add(_Merge):
    """Sum of one or more inputs.

    Examples:
        >>> Add()(np.ones((2, 3)), np.ones((2, 3)), np.ones(3))[0]
        array([3., 3., 3.])
    """

    aliases = ("CAddTable",)
    _kernels = (K.add_forward, K.add_backward)
    _arity = None


class Sub(_Merge):
    """First input minus the second."""

    aliases = ("CSubTable",)
    _kernels = (K.sub_forward, K.sub_backward)


class Mul(_Merge):
    """Product of two inputs.

    Examples:
        >>> Mul()(np.full((2, 3), 2.0), np.arange(3.0))[0]
        array([0., 2., 4.])
    """

    aliases = ("CMulTable",)
    _kernels = (K.mul_forward, K.mul_backward)


class Div(_Merge):
    """First input divided by the second."""

    aliases = ("CDivTable",)
    _kernels = (K.div_forward, K.div_backward)
