"""Trigonometric and hyperbolic layers (ONNX Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh).

Elementwise on any shape, dtype kept; they wrap :mod:`bigdl_runtime.kernels.trig`.

Examples:
    >>> Sin()(np.array([0.0, np.pi / 2]))
    array([0., 1.])
"""
from __future__ import annotations

from ...kernels import trig as K
from .activation import _Activation


class Sin(_Activation):
    """The sine, elementwise."""

    _kernels = (K.sin_forward, K.sin_backward)


class Cos(_Activation):
    """The cosine, elementwise."""

    _kernels = (K.cos_forward, K.cos_backward)


class Tan(_Activation):
    """The tangent, elementwise."""

    _kernels = (K.tan_forward, K.tan_backward)


class Asin(_Activation):
    """The arcsine (nan outside [-1, 1]), elementwise."""

    _kernels = (K.asin_forward, K.asin_backward)


class Acos(_Activation):
    """The arccosine (nan outside [-1, 1]), elementwise."""

    _kernels = (K.acos_forward, K.acos_backward)


class Atan(_Activation):
    """The arctangent, elementwise."""

    _kernels = (K.atan_forward, K.atan_backward)


class Sinh(_Activation):
    """The hyperbolic sine, elementwise."""

    _kernels = (K.sinh_forward, K.sinh_backward)


class Cosh(_Activation):
    """The hyperbolic cosine, elementwise."""

    _kernels = (K.cosh_forward, K.cosh_backward)


class Asinh(_Activation):
    """The inverse hyperbolic sine, elementwise."""

    _kernels = (K.asinh_forward, K.asinh_backward)


class Acosh(_Activation):
    """The inverse hyperbolic cosine (nan below 1), elementwise."""

    _kernels = (K.acosh_forward, K.acosh_backward)


class Atanh(_Activation):
    """The inverse hyperbolic tangent (nan outside (-1, 1)), elementwise."""

    _kernels = (K.atanh_forward, K.atanh_backward)
