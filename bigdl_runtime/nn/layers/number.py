"""Number-level layers: Ceil, Floor, Round, Sign, Mod, IsNaN, IsInf, BitShift, the bitwise ops and BitCast.

Ceil, Floor, Round and Sign are piecewise constant: their gradient is zero. Mod is
differentiable for floats (see :func:`bigdl_runtime.kernels.number.mod_forward`).
IsNaN and IsInf output booleans, BitShift and the bitwise ops compute on
integers and BitCast reinterprets bits: they have **no gradient** - their ``backward`` returns ``None`` for every
input, the Graph's marker for "nothing flows back here" (as the comparisons of
:mod:`.math`), so a model holding them still trains the layers before and after.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...kernels import number as K
from ..kernel_layer import _MultiInputLayer
from .activation import _Activation
from .math import _Boolean


class Ceil(_Activation):
    """The smallest integer >= x, elementwise (dtype kept; zero gradient)."""

    _kernels = (K.ceil_forward, K.ceil_backward)


class Floor(_Activation):
    """The largest integer <= x, elementwise (dtype kept; zero gradient)."""

    _kernels = (K.floor_forward, K.floor_backward)


class Round(_Activation):
    """The nearest integer, halves to even, elementwise (ONNX Round, ``torch.round``; zero gradient).

    Examples:
        >>> Round()(np.array([0.5, 1.5, -2.5]))
        array([ 0.,  2., -2.])
    """

    _kernels = (K.round_forward, K.round_backward)


class Sign(_Activation):
    """-1, 0 or 1, elementwise (dtype kept; zero gradient)."""

    _kernels = (K.sign_forward, K.sign_backward)


class Mod(_MultiInputLayer):
    """The remainder of ``a / b``, broadcast (ONNX Mod).

    Args:
        fmod: False (default): the result has the divisor's sign (Python's ``%``);
            True: the dividend's sign (C's ``fmod``; ONNX requires it for floats).

    Shape:
        - Inputs: ``a`` and ``b``, broadcast together. ``backward`` returns ``(da, db)``
          for floats and ``(None, None)`` for integers.

    Examples:
        >>> Mod()(np.array([-4, 7]), np.array([3, -3]))
        array([ 2, -2])
        >>> Mod(fmod=True)(np.array([-4.0, 7.0]), np.array([3.0, -3.0]))
        array([-1.,  1.])
    """

    _kernels = (K.mod_forward, K.mod_backward)
    _kernel_keywords = {"fmod": "fmod"}
    _arity = 2

    def __init__(self, fmod: bool = False, name: str | None = None) -> None:
        super().__init__(name=name)
        self.fmod = bool(fmod)

    def get_config(self) -> dict[str, Any]:
        return {"fmod": self.fmod}


class IsNaN(_Boolean):
    """Boolean: the element is NaN (``torch.isnan``)."""

    _arity = 1

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.isnan(*xs)


class IsInf(_Boolean):
    """Boolean: the element is an infinity (ONNX IsInf).

    Args:
        detect_negative: report -inf. Default: True.
        detect_positive: report +inf. Default: True.
    """

    def __init__(self, detect_negative: bool = True, detect_positive: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        self.detect_negative = bool(detect_negative)
        self.detect_positive = bool(detect_positive)

    def get_config(self) -> dict[str, Any]:
        return {"detect_negative": self.detect_negative, "detect_positive": self.detect_positive}

    _arity = 1

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.isinf(*xs, self.detect_negative, self.detect_positive)


class BitShift(_Boolean):
    """``x << shift`` or ``x >> shift`` on unsigned integers, broadcast (ONNX BitShift; no gradient).

    Args:
        direction: ``"LEFT"`` or ``"RIGHT"``.

    Examples:
        >>> BitShift("LEFT")(np.array([1, 2], np.uint8), np.array([3, 1], np.uint8))
        array([8, 4], dtype=uint8)
    """

    def __init__(self, direction: str, name: str | None = None) -> None:
        super().__init__(name=name)
        if direction not in ("LEFT", "RIGHT"):
            raise ValueError(f"BitShift: direction must be 'LEFT' or 'RIGHT', got {direction!r}")
        self.direction = direction

    def get_config(self) -> dict[str, Any]:
        return {"direction": self.direction}

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.bit_shift(*xs, self.direction)


class _Bitwise(_Boolean):
    """Bitwise logic on integers (booleans too), broadcast; no gradient."""

    _op: ClassVar[str]

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.bitwise(self._op, *xs)


class BitwiseAnd(_Bitwise):
    """``a & b``, elementwise (``torch.bitwise_and``)."""

    _op = "and"


class BitwiseOr(_Bitwise):
    """``a | b``, elementwise (``torch.bitwise_or``)."""

    _op = "or"


class BitwiseXor(_Bitwise):
    """``a ^ b``, elementwise (``torch.bitwise_xor``)."""

    _op = "xor"


class BitwiseNot(_Bitwise):
    """``~x``, elementwise (``torch.bitwise_not``)."""

    _op = "not"
    _arity = 1


class BitCast(_Boolean):
    """The input's bits read as another type of the same width (ONNX BitCast; no gradient).

    Args:
        dtype: the output type (numpy name).

    Examples:
        >>> BitCast("int32")(np.array([1.0], np.float32))
        array([1065353216], dtype=int32)
    """

    _arity = 1

    def __init__(self, dtype: str, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dtype = str(np.dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype}

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.bit_cast(xs[0], self.dtype)
