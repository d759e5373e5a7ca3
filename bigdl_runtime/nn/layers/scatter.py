"""Element-wise gather and scatter layers: GatherElements, ScatterElements, GatherND, ScatterND.

They wrap :mod:`bigdl_runtime.kernels.scatter` with ONNX semantics (negative indices
count from the end). ``backward`` returns ``None`` for the integer indices; scatters
differentiate for reductions ``"none"`` and ``"add"`` only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import scatter as K
from ..kernel_layer import _MultiInputLayer, as_inputs, call_kernel, memoized


class _MultiInputKernel(_MultiInputLayer):
    """Base: a kernel pair over ``_arity`` inputs (``(data, indices[, updates])`` here), configured by
    ``get_config()``; the backward kernel's errors name the layer too."""

    def _kernel_config(self) -> dict[str, Any]:
        return self.get_config()

    def backward_pass(self, grad_output: np.ndarray, ctx: Any) -> tuple[np.ndarray | None, ...]:
        return call_kernel(self, super().backward_pass, grad_output, ctx)


def _reduction(reduction: str) -> str:
    if reduction not in ("none", "add", "mul", "max", "min"):
        raise ValueError(f"reduction must be none, add, mul, max or min, got {reduction!r}")
    return reduction


class GatherElements(_MultiInputKernel):
    """``y[i][j] = x[indices[i][j]][j]`` along ``axis`` 0 (likewise for others): ``torch.gather``, ONNX GatherElements.

    Args:
        axis: the indexed axis (may be negative). Default: 0.

    Shape:
        - Inputs: ``x`` and integer ``indices`` of the same rank (no larger on the other axes).
        - Output: the shape of ``indices``. ``backward`` returns ``(dx, None)``.

    Examples:
        >>> GatherElements(axis=1)(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1, 0], [0, 0]]))
        array([[2., 1.],
               [3., 3.]])
    """

    _kernels = (K.gather_elements_forward, K.gather_elements_backward)
    _arity = 2

    def __init__(self, axis: int = 0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = int(axis)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class ScatterElements(_MultiInputKernel):
    """``data`` with ``updates[i][j]`` written to ``[indices[i][j]][j]`` (``axis`` 0; ONNX ScatterElements).

    Args:
        axis: the indexed axis (may be negative). Default: 0.
        reduction: ``"none"`` (assign), ``"add"``, ``"mul"``, ``"max"`` or ``"min"``.

    Shape:
        - Inputs: ``data``, integer ``indices`` and ``updates`` of the indices' shape.
        - Output: the shape of ``data``. ``backward`` returns ``(ddata, None, dupdates)``.
    """

    _kernels = (K.scatter_elements_forward, K.scatter_elements_backward)
    _arity = 3

    def __init__(self, axis: int = 0, reduction: str = "none", name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis = int(axis)
        self.reduction = _reduction(reduction)

    def infer(self, *inputs: Any) -> np.ndarray:
        """An assigning scatter of valid operands without the backward cache, the index grid of the other axes
        worked out once per indices shape (a decoder loop's step writes one row: the grid was most of it);
        anything else (and every error) goes through the forward."""
        xs = as_inputs(inputs)
        if len(xs) == 3 and self.reduction == "none" and all(type(x) is np.ndarray for x in xs):
            data, indices, updates = xs
            if (data.ndim == indices.ndim and updates.shape == indices.shape and indices.dtype.kind in "iu"
                    and -data.ndim <= self.axis < data.ndim
                    and all(i <= d for i, d in zip(indices.shape, data.shape))):
                axis, size = self.axis % data.ndim, data.shape[self.axis]
                if indices.size == 0 or (indices.min() >= -size and indices.max() < size):
                    grid = list(memoized(self, (indices.shape, axis),
                                         lambda: np.ogrid[tuple(slice(0, n) for n in indices.shape)]))
                    grid[axis] = np.where(indices < 0, indices + size, indices) if indices.size and indices.min() < 0 \
                        else indices
                    y = data.copy()
                    y[tuple(grid)] = updates
                    return y
        return self.forward_pass(*inputs)[0]

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "reduction": self.reduction}


class GatherND(_MultiInputKernel):
    """Slices of ``x`` addressed by the last axis of ``indices`` (ONNX GatherND).

    Args:
        batch_dims: leading axes shared by ``x`` and ``indices``. Default: 0.

    Shape:
        - Inputs: ``x`` and integer ``indices`` of shape ``(*batch, *m, k)``.
        - Output: ``indices.shape[:-1] + x.shape[batch_dims + k:]``. ``backward`` returns ``(dx, None)``.

    Examples:
        >>> GatherND()(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0, 1], [1, 0]]))
        array([2., 3.])
    """

    _kernels = (K.gather_nd_forward, K.gather_nd_backward)
    _arity = 2

    def __init__(self, batch_dims: int = 0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.batch_dims = int(batch_dims)

    def get_config(self) -> dict[str, Any]:
        return {"batch_dims": self.batch_dims}


class ScatterND(_MultiInputKernel):
    """A copy of ``data`` whose slices addressed by ``indices`` get ``updates`` (ONNX ScatterND).

    Args:
        reduction: ``"none"`` (assign), ``"add"``, ``"mul"``, ``"max"`` or ``"min"``.

    Shape:
        - Inputs: ``data``, integer ``indices`` of shape ``(*m, k)``, ``updates`` of shape
          ``(*m, *data.shape[k:])``.
        - Output: the shape of ``data``. ``backward`` returns ``(ddata, None, dupdates)``.
    """

    _kernels = (K.scatter_nd_forward, K.scatter_nd_backward)
    _arity = 3

    def __init__(self, reduction: str = "none", name: str | None = None) -> None:
        super().__init__(name=name)
        self.reduction = _reduction(reduction)

    def get_config(self) -> dict[str, Any]:
        return {"reduction": self.reduction}
