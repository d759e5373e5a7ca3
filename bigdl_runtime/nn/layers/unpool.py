"""Max-pooling indices and unpooling: MaxPoolIndices (ONNX MaxPool's Indices output) and MaxUnpool (values back
to the positions those indices name; ONNX MaxUnpool, ``nn.MaxUnpool2d``)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import unpool as K
from ...kernels.pool import max_pool2d_indices
from ..kernel_layer import _MultiInputLayer
from .math import _Boolean


class MaxPoolIndices(_Boolean):
    """Flat whole-tensor int64 indices of each 2-D max-pooling window's first maximum (no gradient).

    Args:
        kernel_size, stride, padding, dilation, ceil_mode: as :class:`MaxPool2d` (stride defaults
            to the kernel size; padding may be (top, left, bottom, right)).
        storage_order: 0 (row-major: ``h * W + w`` within a plane) or 1 (column-major: ``w * H + h``).

    Examples:
        >>> MaxPoolIndices(2)(np.array([[[[1.0, 4.0], [3.0, 2.0]]]]))
        array([[[[1]]]])
    """

    _arity = 1

    def __init__(self, kernel_size: Sequence[int] | int, stride: Sequence[int] | int | None = None,
                 padding: Sequence[int] | int = 0, dilation: Sequence[int] | int = 1, ceil_mode: bool = False,
                 storage_order: int = 0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.kernel_size, self.stride = _ints(kernel_size), None if stride is None else _ints(stride)
        self.padding, self.dilation = _ints(padding), _ints(dilation)
        self.ceil_mode, self.storage_order = bool(ceil_mode), int(storage_order)

    def get_config(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "ceil_mode": self.ceil_mode, "storage_order": self.storage_order}

    def _compute(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        return max_pool2d_indices(xs[0], tuple(self.kernel_size), None if self.stride is None else
                                  tuple(self.stride), tuple(self.padding), tuple(self.dilation), self.ceil_mode,
                                  self.storage_order)


def _ints(values: Sequence[int] | int) -> list[int]:
    """An int (the same on both axes) or a sequence, as a list."""
    return [int(values)] * 2 if isinstance(values, (int, np.integer)) else [int(v) for v in values]


class MaxUnpool(_MultiInputLayer):
    """Scatter ``x`` (N, C, *spatial) to flat whole-tensor ``indices`` (as MaxPool's Indices output).

    Args:
        kernel_shape, strides: per spatial axis (strides default 1).
        pads: ONNX begin-then-end pads (default 0).
        output_shape: a full output shape at least the unpooled one (zeros pad the end), or None.

    Shape:
        - Inputs: ``x`` and int64 ``indices`` of the same shape.
        - Output: ``(N, C, *((in - 1) * stride - pads + kernel))`` or ``output_shape``.
          ``backward`` returns ``(dx, None)``.
    """

    _kernels = (K.max_unpool_forward, K.max_unpool_backward)
    _kernel_keywords = {"kernel": "kernel_shape", "strides": "strides", "pads": "pads", "output_shape": "output_shape"}
    _arity = 2
    _input_names = "(x, indices)"

    def __init__(self, kernel_shape: Sequence[int], strides: Sequence[int] | None = None,
                 pads: Sequence[int] | None = None, output_shape: Sequence[int] | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.kernel_shape = [int(k) for k in kernel_shape]
        k = len(self.kernel_shape)
        self.strides = [1] * k if strides is None else [int(s) for s in strides]
        self.pads = [0] * 2 * k if pads is None else [int(p) for p in pads]
        self.output_shape = None if output_shape is None else [int(d) for d in output_shape]

    def get_config(self) -> dict[str, Any]:
        return {"kernel_shape": self.kernel_shape, "strides": self.strides, "pads": self.pads,
                "output_shape": self.output_shape}
