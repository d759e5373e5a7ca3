"""Pointwise math layers: unary functions, Pow, Clip/ReLU6, Maximum/Minimum/Average, Where,
comparisons (Equal, Less, ...) and logic (LogicalNot, LogicalAnd, ...).

They wrap :mod:`bigdl_runtime.kernels.math`. Multi-input layers take their inputs
as separate arguments or as one tuple/list, broadcast them with numpy rules and
return one gradient per input, shaped like that input.

Comparisons and logic output booleans, which are piecewise constant in the inputs:
their ``backward`` returns ``None`` for every input, the Graph's marker for "no
gradient flows here" (the same as a zero gradient). ``Where`` likewise returns
``None`` for its condition.
"""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ...kernels import math as K
from ...kernels.elementwise import out_for, typed
from ..kernel_layer import _KernelLayer, _MultiInputLayer, as_inputs, call_kernel
from ..module import Module
from .activation import _Activation


class Sqrt(_Activation):
    """Square root, elementwise.

    Examples:
        >>> Sqrt()(np.array([4.0, 9.0]))
        array([2., 3.])
    """

    _kernels = (K.sqrt_forward, K.sqrt_backward)


class Exp(_Activation):
    """e ** x, elementwise."""

    _kernels = (K.exp_forward, K.exp_backward)


class Log(_Activation):
    """Natural logarithm, elementwise."""

    _kernels = (K.log_forward, K.log_backward)


class Neg(_Activation):
    """-x, elementwise."""

    _kernels = (K.neg_forward, K.neg_backward)


class Abs(_Activation):
    """|x|, elementwise (gradient 0 at 0)."""

    _kernels = (K.abs_forward, K.abs_backward)


class Reciprocal(_Activation):
    """1 / x, elementwise."""

    _kernels = (K.reciprocal_forward, K.reciprocal_backward)


class Erf(_Activation):
    """The error function, elementwise."""

    _kernels = (K.erf_forward, K.erf_backward)


class Pow(Module):
    """``base ** exponent``, elementwise, in the base's dtype.

    Args:
        exponent: a fixed exponent (the layer then takes one input, the base), or
            ``None`` (default) to take two inputs, base and exponent, broadcast together.

    Examples:
        >>> Pow(2.0)(np.array([1.0, 3.0]))
        array([1., 9.])
        >>> Pow()(np.array([2.0, 3.0]), np.array([3.0, 2.0]))
        array([8., 9.])
    """

    def __init__(self, exponent: float | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.exponent = None if exponent is None else float(exponent)

    def get_config(self) -> dict[str, Any]:
        return {"exponent": self.exponent}

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, Any]:
        xs = as_inputs(inputs)
        want = 2 if self.exponent is None else 1
        if len(xs) != want:
            raise ValueError(f"{self.describe()}: expected {want} input(s), got {len(xs)}")
        exponent = xs[1] if self.exponent is None else self.exponent
        return call_kernel(self, K.pow_forward, xs[0], exponent)

    def infer(self, *inputs: np.ndarray) -> np.ndarray:
        """A fixed exponent of 2 on a floating base: ``np.square`` (the same correctly rounded values)."""
        if self.exponent == 2.0 and len(inputs) == 1 and isinstance(inputs[0], np.ndarray) \
                and inputs[0].dtype.kind == "f":
            return np.square(inputs[0])
        return self.forward_pass(*inputs)[0]

    def backward_pass(self, grad_output: np.ndarray,
                      ctx: Any) -> np.ndarray | tuple[np.ndarray | None, np.ndarray | None]:
        if self.exponent is not None:  # a fixed exponent needs no gradient (and no logarithms)
            return K.pow_base_grad(grad_output, ctx)
        return K.pow_backward(grad_output, ctx)


class Clip(_KernelLayer):
    """Clamp every element to ``[min, max]`` (as ``torch.clamp`` and ONNX Clip).

    Args:
        min: lower bound, or None for none.
        max: upper bound, or None for none. If ``min > max`` every output is ``max``.

    Examples:
        >>> Clip(0.0, 6.0)(np.array([-1.0, 3.0, 8.0]))
        array([0., 3., 6.])
    """

    aliases = ("Clamp",)
    _kernels = (K.clip_forward, K.clip_backward)

    def __init__(self, min: float | None = None, max: float | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.min = None if min is None else float(min)
        self.max = None if max is None else float(max)

    def get_config(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max}

    def _kernel_config(self) -> dict[str, Any]:
        return {"min": self.min, "max": self.max, "keep_mask": self.training}

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The clamp alone on an array: a maximum and a minimum by 0-d bounds of its dtype (``np.clip``'s Python
        wrapper and the forward's bound conversions cost more on a small array); NaN passes and ``min > max``
        gives ``max`` everywhere, as in the forward."""
        if type(x) is not np.ndarray or (self.min is None and self.max is None):
            return self.forward_pass(x)[0]
        y = x if self.min is None else np.maximum(x, typed(self.min, x.dtype))
        if self.max is None:
            return y
        return np.minimum(y, typed(self.max, x.dtype), out=None if y is x else out_for(y))


class ReLU6(Clip):
    """min(max(x, 0), 6), elementwise (MobileNet's activation; ``Clip(0, 6)``)."""

    def __init__(self, name: str | None = None) -> None:
        super().__init__(0.0, 6.0, name=name)

    def get_config(self) -> dict[str, Any]:
        return {}


class _NAry(_MultiInputLayer):
    """Base of the broadcasting merges of one or more inputs.

    Shape:
        - Inputs: tensors that broadcast together (numpy rules).
        - Output: their broadcast shape. ``backward`` returns one gradient per input
          (a single array when there is one input).
    """


class Maximum(_NAry):
    """Elementwise maximum of one or more inputs (ONNX Max; ``torch.maximum`` for two).

    On ties the whole gradient goes to the first input holding the maximum.

    Examples:
        >>> Maximum()(np.array([1.0, 5.0]), np.array([3.0, 2.0]), np.array(4.0))
        array([4., 5.])
    """

    _kernels = (K.max_forward, K.max_backward, K.max_infer)


class Minimum(_NAry):
    """Elementwise minimum of one or more inputs (ONNX Min; ``torch.minimum`` for two).

    On ties the whole gradient goes to the first input holding the minimum.
    """

    _kernels = (K.min_forward, K.min_backward, K.min_infer)


class Average(_NAry):
    """Elementwise mean of one or more inputs (ONNX Mean, Keras ``Average``).

    Examples:
        >>> Average()(np.array([1.0, 2.0]), np.array([3.0, 6.0]))
        array([2., 4.])
    """

    _kernels = (K.mean_forward, K.mean_backward)


class Where(_MultiInputLayer):
    """``x`` where ``condition`` else ``y`` (as ``torch.where`` and ONNX Where).

    Shape:
        - Inputs: ``condition`` (boolean; a number counts as ``!= 0``), ``x``, ``y``,
          broadcast together.
        - Output: the broadcast shape. ``backward`` returns ``(None, dx, dy)``.

    Examples:
        >>> Where()(np.array([True, False]), np.array([1.0, 2.0]), np.array(0.0))
        array([1., 0.])
    """

    _kernels = (K.where_forward, K.where_backward)
    _arity = 3
    _input_names = "(condition, x, y)"


class _Boolean(Module):
    """Base of the comparisons and logic ops: boolean output, no gradient.

    ``backward`` returns ``None`` for each input (a single ``None`` for one input):
    the output is piecewise constant, so nothing flows back through it.
    """

    _op: ClassVar[str]
    _arity: ClassVar[int] = 2

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        raise NotImplementedError

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, None]:
        xs = as_inputs(inputs)
        if len(xs) != self._arity:
            raise ValueError(f"{self.describe()}: expected {self._arity} input(s), got {len(xs)}")
        return call_kernel(self, self._compute, xs), None

    def backward_pass(self, grad_output: Any, ctx: None) -> None | tuple[None, ...]:
        return None if self._arity == 1 else (None,) * self._arity


class _Comparison(_Boolean):
    """Boolean ``a <op> b``, broadcast.

    Shape:
        - Inputs: two tensors that broadcast together.
        - Output: a boolean tensor of their broadcast shape.
    """

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.compare(self._op, *xs)

    def infer(self, *inputs: Any) -> Any:
        """Two inputs: the ufunc alone (the forward's output without its checks; a failing call goes through
        the forward, whose error names the layer and the shapes)."""
        if len(inputs) == 2:
            try:
                return K.COMPARISONS[self._op](inputs[0], inputs[1])
            except (TypeError, ValueError):
                pass
        return self.forward_pass(*inputs)[0]


class Equal(_Comparison):
    """``a == b``, elementwise (``torch.eq``)."""

    _op = "equal"


class Less(_Comparison):
    """``a < b``, elementwise (``torch.lt``).

    Examples:
        >>> Less()(np.array([1.0, 5.0]), np.array(3.0))
        array([ True, False])
    """

    _op = "less"


class Greater(_Comparison):
    """``a > b``, elementwise (``torch.gt``)."""

    _op = "greater"


class LessOrEqual(_Comparison):
    """``a <= b``, elementwise (``torch.le``)."""

    _op = "less_equal"


class GreaterOrEqual(_Comparison):
    """``a >= b``, elementwise (``torch.ge``)."""

    _op = "greater_equal"


class _Logic(_Boolean):
    """Boolean logic; a non-boolean input counts as ``!= 0``."""

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return K.logical(self._op, *xs)


class LogicalNot(_Logic):
    """``not x``, elementwise (``torch.logical_not``, ONNX Not)."""

    _op = "not"
    _arity = 1


class LogicalAnd(_Logic):
    """``a and b``, elementwise, broadcast (ONNX And)."""

    _op = "and"


class LogicalOr(_Logic):
    """``a or b``, elementwise, broadcast (ONNX Or)."""

    _op = "or"


class LogicalXor(_Logic):
    """``a xor b``, elementwise, broadcast (ONNX Xor)."""

    _op = "xor"
