"""Elementwise merge layers with numpy broadcasting: Add (n inputs), Sub, Mul, Div.

The inputs come as separate arguments or as one tuple/list (the output of a
Split); ``backward`` returns one gradient per input, each of that input's shape.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...kernels import elementwise as K
from ..kernel_layer import _MultiInputLayer, as_inputs


class _Merge(_MultiInputLayer):
    """Base of the elementwise merges: one kernel pair over the inputs.

    Shape:
        - Inputs: tensors that broadcast together (numpy rules).
        - Output: their broadcast shape.
    """

    _arity = 2
    #: the numpy ufunc of two inputs (the inference path: one call, no cache)
    _ufunc: ClassVar[np.ufunc]

    def infer(self, *inputs: Any) -> Any:
        """Two inputs: the ufunc alone (the forward's output without its shape checks and cache)."""
        xs = as_inputs(inputs)
        if len(xs) == 2:
            try:
                return self._ufunc(xs[0], xs[1])
            except ValueError:
                pass  # shapes that do not broadcast: the forward's error names the layer and the shapes
        return self.forward_pass(*inputs)[0]


class Add(_Merge):
    """Sum of one or more inputs.

    Examples:
        >>> Add()(np.ones((2, 3)), np.ones((2, 3)), np.ones(3))[0]
        array([3., 3., 3.])
    """

    aliases = ("CAddTable",)
    _kernels = (K.add_forward, K.add_backward)
    _ufunc = np.add
    _arity = None


class Sub(_Merge):
    """First input minus the second."""

    aliases = ("CSubTable",)
    _kernels = (K.sub_forward, K.sub_backward)
    _ufunc = np.subtract


class Mul(_Merge):
    """Product of two inputs.

    Examples:
        >>> Mul()(np.full((2, 3), 2.0), np.arange(3.0))[0]
        array([0., 2., 4.])
    """

    aliases = ("CMulTable",)
    _kernels = (K.mul_forward, K.mul_backward)
    _ufunc = np.multiply


class Div(_Merge):
    """First input divided by the second."""

    aliases = ("CDivTable",)
    _kernels = (K.div_forward, K.div_backward)
    _ufunc = np.true_divide
