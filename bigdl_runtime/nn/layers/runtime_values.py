"""Layers for values an imported graph computes at run time: Cast, ConstantOfShape, Range.

Most such values are folded to constants at import; these run when they depend on
a run-time shape (a dynamic batch axis). Only Cast between floating dtypes passes
a gradient; integer and boolean results are piecewise constant (``None``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..kernel_layer import as_inputs
from ..module import Module

#: Largest tensor ConstantOfShape / Range will allocate from a run-time shape (elements).
MAX_ELEMENTS = 1 << 30


#: The dtypes these layers produce: numpy's own bool, integer and floating types.
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")


def _dtype(name: str, layer: str) -> str:
    try:
        dtype = np.dtype(name)
    except TypeError:
        raise ValueError(f"{layer}: unknown dtype {name!r}") from None
    if dtype.name not in DTYPES:
        raise ValueError(f"{layer}: dtype must be one of {', '.join(DTYPES)}; got {dtype.name}")
    return dtype.name


class Cast(Module):
    """Convert the input to ``dtype`` (``Tensor.to(dtype)``, ONNX Cast).

    Floats convert to integers by truncation toward zero and to bool as ``!= 0``.

    Args:
        dtype: numpy dtype name: ``"float32"``, ``"float64"``, ``"int64"``, ``"bool"``, ...

    Shape:
        - Input: ``(*)``. Output: ``(*)`` in ``dtype``. ``backward`` casts the gradient back
          to the input's dtype when both are floating, else returns ``None``.

    Examples:
        >>> Cast("int64")(np.array([1.7, -1.7]))
        array([ 1, -1])
    """

    def __init__(self, dtype: str, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dtype = _dtype(dtype, f"Cast('{name}')" if name else "Cast")

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, np.dtype]:
        x = np.asarray(x)
        return x.astype(self.dtype), x.dtype

    def backward_pass(self, grad_output: np.ndarray, source: np.dtype) -> np.ndarray | None:
        if np.issubdtype(source, np.floating) and np.issubdtype(np.dtype(self.dtype), np.floating):
            return np.asarray(grad_output).astype(source)
        return None


class ConstantOfShape(Module):
    """A tensor filled with ``value``, shaped by an int64 vector input (ONNX ConstantOfShape).

    Args:
        value: the fill value. Default: 0.
        dtype: numpy dtype name of the output. Default: ``"float32"``.

    Shape:
        - Input: a 1-D integer shape. Output: that shape; ``backward`` returns ``None``.

    Examples:
        >>> ConstantOfShape(1.0)(np.array([2, 3])).shape
        (2, 3)
    """

    def __init__(self, value: float = 0.0, dtype: str = "float32", name: str | None = None) -> None:
        super().__init__(name=name)
        self.dtype = _dtype(dtype, f"ConstantOfShape('{name}')" if name else "ConstantOfShape")
        self.value = np.asarray(value).astype(self.dtype).item()

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value, "dtype": self.dtype}

    def forward_pass(self, shape: np.ndarray) -> tuple[np.ndarray, None]:
        shape = np.asarray(shape)
        if shape.ndim != 1 or (shape.size and not np.issubdtype(shape.dtype, np.integer)) or (shape < 0).any():
            raise ValueError(f"{self.describe()}: the shape must be a 1-D vector of non-negative integers, "
                             f"got {shape.tolist()} ({shape.dtype})")
        count = int(np.prod(shape, dtype=np.float64))
        if count > MAX_ELEMENTS:
            raise ValueError(f"{self.describe()}: refusing to allocate {count} elements for shape {shape.tolist()}")
        return np.full([int(s) for s in shape], self.value, dtype=self.dtype), None

    def backward_pass(self, grad_output: Any, ctx: None) -> None:
        return None


class Range(Module):
    """``start, start + delta, ...`` up to ``limit`` (exclusive), from three scalar inputs (ONNX Range).

    The output has the dtype of ``start``; the count is ``max(ceil((limit - start) / delta), 0)``.

    Examples:
        >>> Range()(np.array(1), np.array(7), np.array(2))
        array([1, 3, 5])
    """

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, None]:
        xs = as_inputs(inputs)
        if len(xs) != 3 or any(np.size(x) != 1 for x in xs):
            raise ValueError(f"{self.describe()}: expected 3 scalar inputs (start, limit, delta), "
                             f"got shapes {[np.shape(x) for x in xs]}")
        start, limit, delta = (np.asarray(x).reshape(()) for x in xs)
        if delta == 0:
            raise ValueError(f"{self.describe()}: delta is 0")
        count = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
        if count > MAX_ELEMENTS:
            raise ValueError(f"{self.describe()}: refusing to allocate {count} elements")
        return (start + np.arange(count, dtype=start.dtype) * delta).astype(start.dtype), None

    def backward_pass(self, grad_output: Any, ctx: None) -> tuple[None, None, None]:
        return None, None, None
