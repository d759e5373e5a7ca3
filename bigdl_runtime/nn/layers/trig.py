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

    _kernel = (K.sin_forward, K.sin_backward)


class Cos(_Activation):
    """The cosine, elementwise."""

    _kernel = (K.cos_forward, K.cos_backward)


class Tan(_Activation):
    """The tangent, elementwise."""

    _kernel = (K.tan_forward, K.tan_backward)


class Asin(_Activation):
    """The arcsine (nan outside [-1, 1]), elementwise."""

    _kernel = (K.asin_forward, K.asin_backward)


class Acos(_Activation):
    """The arccosine (nan outside [-1, 1]), elementwise."""

    _kernel = (K.acos_forward, K.acos_backward)


class Atan(_Activation):
    """The arctangent, elementwise."""

    _kernel = (K.atan_forward, K.atan_backward)


class Sinh(_Activation):
    """The hyperbolic sine, elementwise."""

    _kernel = (K.sinh_forward, K.sinh_backward)


class Cosh(_Activation):
    """The hyperbolic cosine, elementwise."""

    _kernel = (K.cosh_forward, K.cosh_backward)


class Asinh(_Activation):
    """The inverse hyperbolic sine, elementwise."""

    _kernel = (K.asinh_forward, K.asinh_backward)


class Acosh(_Activation):
    """The inverse hyperbolic cosine (nan below 1), elementwise."""

    _kernel = (K.acosh_forward, K.acosh_backward)


class Atanh(_Activation):
    """The inverse hyperbolic tangent (nan outside (-1, 1)), elementwise."""

    _kernel = (K.atanh_forward, K.atanh_backward)
