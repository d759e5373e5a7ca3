"""Elementwise merge layers with numpy broadcasting: Add (n inputs), Sub, Mul, Div.

The inputs come as separate arguments or as one tuple/list (the output of a
Split); ``backward`` returns one gradient per input, each of that input's shape.
"""
from __future__ import annotations

from ...kernels import elementwise as K
from ..kernel_layer import _MultiInputLayer


class _Merge(_MultiInputLayer):
    """Base of the elementwise merges: one kernel pair over the inputs.

    Shape:
        - Inputs: tensors that broadcast together (numpy rules).
        - Output: their broadcast shape.
    """

    _arity = 2


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
