"""Reduction layers: ReduceSum/Mean/Max/Min/Prod, ArgMax/ArgMin, TopK.

They wrap :mod:`bigdl_runtime.kernels.reduce`. Axes count the batch axis (0) and
may be negative. Max/Min send the gradient to the first extreme element on ties;
ArgMax/ArgMin return int64 indices and pass no gradient back.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from ...kernels import reduce as K
from ...kernels.elementwise import out_for, typed
from ..kernel_layer import _KernelLayer, call_kernel, memoized
from ..module import Module


def _dims(dim: int | Sequence[int] | None) -> int | list[int] | None:
    if dim is None or isinstance(dim, (int, np.integer)):
        return None if dim is None else int(dim)
    return [int(d) for d in dim]


class _Reduce(_KernelLayer):
    """Base of the reductions over ``dim``.

    Args:
        dim: an axis, a list of axes, or None (default) for all axes; an empty
            list reduces nothing (ONNX ``noop_with_empty_axes``).
        keepdim: keep the reduced axes with size 1. Default: False (as torch; ONNX's
            default is True, the importer passes it explicitly).

    Shape:
        - Input: ``(*)``.
        - Output: the input's shape without the reduced axes (size 1 with ``keepdim``).
    """

    _kernel_keywords = {"axes": "dim", "keepdims": "keepdim"}

    def __init__(self, dim: int | Sequence[int] | None = None, keepdim: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = _dims(dim)
        self.keepdim = bool(keepdim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim, "keepdim": self.keepdim}


class ReduceSum(_Reduce):
    """Sum over ``dim`` (``torch.sum``).

    Examples:
        >>> ReduceSum(dim=1)(np.ones((2, 3, 4))).shape
        (2, 4)
    """

    _kernels = (K.reduce_sum_forward, K.reduce_sum_backward)


class ReduceMean(_Reduce):
    """Mean over ``dim`` (``torch.mean``).

    Examples:
        >>> ReduceMean(dim=[2, 3], keepdim=True)(np.ones((2, 3, 4, 4))).shape
        (2, 3, 1, 1)
    """

    _kernels = (K.reduce_mean_forward, K.reduce_mean_backward)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """float32/float64: numpy's own mean (a sum, then a division by the count) with the axes worked
        out once per input shape, skipping the method's Python layer."""
        x = np.asarray(x)
        if x.dtype != np.float32 and x.dtype != np.float64:
            return self.forward_pass(x)[0]
        axes, count = memoized(self, x.shape, lambda: self._axes(x))
        total = np.add.reduce(x, axis=axes, keepdims=self.keepdim)
        if isinstance(total, np.ndarray):  # the count as a 0-d array of x's dtype: a division in that dtype
            return np.true_divide(total, typed(count, x.dtype), out=out_for(total))
        return x.dtype.type(total / count)

    def _axes(self, x: np.ndarray) -> tuple[tuple[int, ...], int]:
        self.forward_pass(x)  # checks the axes, naming the layer
        axes = K.normalize_axes(self.dim, x.ndim, "reduce_mean")
        return axes, int(np.prod([x.shape[a] for a in axes]))


class _Extreme(_Reduce):
    """Base of ReduceMax and ReduceMin: in evaluation mode one ufunc reduction (the forward also finds where the
    extreme is, for its backward: an argmax over a copy of the input in rows, then a gather)."""

    _ufunc: ClassVar[np.ufunc]

    def infer(self, x: np.ndarray) -> np.ndarray:
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        axes = memoized(self, x.shape, lambda: self._axes(x))
        if axes is None:
            return self.forward_pass(x)[0]
        y = self._ufunc.reduce(x, axis=axes, keepdims=self.keepdim)
        return y if type(y) is np.ndarray else np.asarray(y)

    def _axes(self, x: np.ndarray) -> tuple[int, ...] | None:
        """The reduced axes of inputs of ``x``'s shape, once the forward has checked them; None where the forward
        runs instead: a scalar, or an empty reduced axis (ONNX's extreme of nothing, -inf or +inf)."""
        self.forward_pass(x)
        axes = K.normalize_axes(self.dim, x.ndim, "reduce")
        return None if x.ndim == 0 or any(x.shape[a] == 0 for a in axes) else axes


class ReduceMax(_Extreme):
    """Maximum over ``dim`` (``torch.amax``; the gradient goes to the first maximal element)."""

    _kernels = (K.reduce_max_forward, K.reduce_max_backward)
    _ufunc = np.maximum


class ReduceMin(_Extreme):
    """Minimum over ``dim`` (``torch.amin``; the gradient goes to the first minimal element)."""

    _kernels = (K.reduce_min_forward, K.reduce_min_backward)
    _ufunc = np.minimum


class ReduceProd(_Reduce):
    """Product over ``dim`` (``torch.prod``); the gradient is exact when elements are zero."""

    _kernels = (K.reduce_prod_forward, K.reduce_prod_backward)


class _ArgExtreme(Module):
    """Base of ArgMax/ArgMin: int64 indices along ``dim``, no gradient.

    Args:
        dim: the reduced axis (batch included, may be negative). Default: -1.
        keepdim: keep ``dim`` with size 1. Default: False.
        select_last_index: on ties report the last index instead of the first.

    Shape:
        - Input: ``(*)``, at least 1-D.
        - Output: int64, the input's shape without ``dim`` (size 1 with ``keepdim``).
    """

    _largest: ClassVar[bool]

    def __init__(self, dim: int = -1, keepdim: bool = False, select_last_index: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = int(dim)
        self.keepdim = bool(keepdim)
        self.select_last_index = bool(select_last_index)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim, "keepdim": self.keepdim, "select_last_index": self.select_last_index}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        return call_kernel(self, K.arg_extreme, x, self.dim, self.keepdim, self._largest, self.select_last_index), None

    def backward_pass(self, grad_output: Any, ctx: None) -> None:
        """Indices are piecewise constant in the input: no gradient (``None``)."""
        return None


class ArgMax(_ArgExtreme):
    """Index of the maximum along ``dim`` (``torch.argmax``, ONNX ArgMax).

    Examples:
        >>> ArgMax(dim=1)(np.array([[1.0, 3.0, 2.0]]))
        array([1])
    """

    _largest = True


class ArgMin(_ArgExtreme):
    """Index of the minimum along ``dim`` (``torch.argmin``, ONNX ArgMin)."""

    _largest = False


class TopK(_KernelLayer):
    """The ``k`` largest (or smallest) elements along ``dim`` and their indices (``torch.topk``).

    Args:
        k: how many elements to keep.
        dim: the axis (batch included, may be negative). Default: -1.
        largest: the largest (True) or smallest elements.
        sorted: accepted for ONNX; the values always come in order (descending when
            ``largest``), equal values lower index first.

    Shape:
        - Input: ``(*)``, at least 1-D, with ``dim`` of size >= ``k``.
        - Output: a tuple ``(values, indices)`` shaped like the input with ``dim`` of
          size ``k``; indices are int64. ``backward`` takes ``(d_values, d_indices)``
          (the second is ignored) and routes each value's gradient to its source.

    Examples:
        >>> values, indices = TopK(2)(np.array([[1.0, 4.0, 3.0]]))
        >>> values, indices
        (array([[4., 3.]]), array([[1, 2]]))
    """

    _kernels = (K.topk_forward, K.topk_backward)
    _kernel_keywords = {"k": "k", "axis": "dim", "largest": "largest", "sorted": "sorted"}

    def __init__(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if int(k) < 0:
            raise ValueError(f"TopK: k must be >= 0, got {k}")
        self.k = int(k)
        self.dim = int(dim)
        self.largest = bool(largest)
        self.sorted = bool(sorted)

    def get_config(self) -> dict[str, Any]:
        return {"k": self.k, "dim": self.dim, "largest": self.largest, "sorted": self.sorted}

    def backward_pass(self, grad_output: Sequence[np.ndarray | None] | np.ndarray, ctx: Any) -> np.ndarray:
        grads = tuple(grad_output) if isinstance(grad_output, (tuple, list)) else (grad_output, None)
        return super().backward_pass(grads, ctx)


class TopKOf(TopK):
    """:class:`TopK` with ``k`` given per call as a second input (ONNX TopK with a computed ``K``).

    Args:
        dim, largest, sorted: as :class:`TopK`.

    Shape:
        - Inputs: ``x`` and ``k`` (one integer). Outputs: as :class:`TopK`; ``backward``
          gives ``k`` a ``None`` gradient.

    Examples:
        >>> TopKOf()(np.array([[1.0, 4.0, 3.0]]), np.array([1]))[0]
        array([[4.]])
    """

    def __init__(self, dim: int = -1, largest: bool = True, sorted: bool = True, name: str | None = None) -> None:
        super().__init__(0, dim, largest, sorted, name=name)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim, "largest": self.largest, "sorted": self.sorted}

    def forward_pass(self, x: np.ndarray, k: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], Any]:
        k = np.asarray(k)
        if k.size != 1 or not np.issubdtype(k.dtype, np.integer) or int(k.reshape(-1)[0]) < 0:
            raise ValueError(f"{self.describe()}: k must be one non-negative integer, got {k.tolist()}")
        return call_kernel(self, K.topk_forward, x, int(k.reshape(-1)[0]), self.dim, self.largest, self.sorted)

    def backward_pass(self, grad_output: Sequence[np.ndarray | None] | np.ndarray, ctx: Any) -> tuple[np.ndarray, None]:
        return super().backward_pass(grad_output, ctx), None
