"""MaxUnpool: values back to the positions their max-pooling indices name (ONNX MaxUnpool, ``nn.MaxUnpool2d``)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import unpool as K
from ..module import Module
from .shape import as_inputs, call_kernel


class MaxUnpool(Module):
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

    def __init__(self, kernel_shape: Sequence[int], strides: Sequence[int] | None = None,
                 pads: Sequence[int] | None = None, output_shape: Sequence[int] | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.kernel_shape = [int(k) for k in kernel_shape]
        k = len(self.kernel_shape)
        self.strides = [1] * k if strides is None else [int(s) for s in strides]
        self.pads = [0] * 2 * k if pads is None else [int(p) for p in pads]
        self.output_shape = None if output_shape is None else [int(d) for d in output_shape]
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"kernel_shape": self.kernel_shape, "strides": self.strides, "pads": self.pads,
                "output_shape": self.output_shape}

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        xs = as_inputs(inputs)
        if len(xs) != 2:
            raise ValueError(f"{self.describe()}: expected 2 inputs (x, indices), got {len(xs)}")
        y, self._cache = call_kernel(self, K.max_unpool_forward, *xs, self.kernel_shape, self.strides, self.pads,
                                     self.output_shape)
        return y

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, None]:
        return K.max_unpool_backward(grad_output, self._need_cache(self._cache))
