"""Trigonometric and hyperbolic functions, elementwise: forward/backward pairs (dtype kept).

Each backward multiplies ``dy`` by the derivative at the cached input. Outside a
function's real domain (``asin`` beyond [-1, 1], ``acosh`` below 1, ...) the
forward is nan, as numpy and ONNX, and so is the gradient.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


def unary_pair(name: str, fn: Callable, derivative: Callable) -> tuple[Callable, Callable]:
    """The (``<name>_forward``, ``<name>_backward``) pair of ``y = fn(x)``, whose derivative is ``derivative(x)``."""
    def forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
        return fn(x), x

    def backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
        return ((dy * derivative(cache)).astype(cache.dtype, copy=False),)
    forward.__name__, backward.__name__ = f"{name}_forward", f"{name}_backward"
    forward.__doc__ = f"``{name}(x)``, elementwise (the cache is ``x``)."
    return forward, backward


sin_forward, sin_backward = unary_pair("sin", np.sin, np.cos)
cos_forward, cos_backward = unary_pair("cos", np.cos, lambda x: -np.sin(x))
tan_forward, tan_backward = unary_pair("tan", np.tan, lambda x: 1 + np.tan(x) ** 2)
asin_forward, asin_backward = unary_pair("asin", np.arcsin, lambda x: 1 / np.sqrt(1 - x * x))
acos_forward, acos_backward = unary_pair("acos", np.arccos, lambda x: -1 / np.sqrt(1 - x * x))
atan_forward, atan_backward = unary_pair("atan", np.arctan, lambda x: 1 / (1 + x * x))
sinh_forward, sinh_backward = unary_pair("sinh", np.sinh, np.cosh)
cosh_forward, cosh_backward = unary_pair("cosh", np.cosh, np.sinh)
asinh_forward, asinh_backward = unary_pair("asinh", np.arcsinh, lambda x: 1 / np.sqrt(x * x + 1))
acosh_forward, acosh_backward = unary_pair("acosh", np.arccosh, lambda x: 1 / np.sqrt(x * x - 1))
atanh_forward, atanh_backward = unary_pair("atanh", np.arctanh, lambda x: 1 / (1 - x * x))

