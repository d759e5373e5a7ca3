"""Linear: the fully connected layer."""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels.elementwise import out_for
from ...kernels.gemm import matmul
from ...kernels.linear import linear_backward, linear_forward
from .. import init
from ..kernel_layer import _KernelLayer
from ..module import Parameter


class Linear(_KernelLayer):
    """Applies ``y = x W^T + b`` to the last axis of the input.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: if ``False`` the layer learns no additive bias.
        name: optional layer name.

    Shape:
        - Input: ``(*, in_features)``.
        - Output: ``(*, out_features)``.

    Weights are initialised like PyTorch: kaiming-uniform (``a = sqrt(5)``)
    weight and ``U(-1/sqrt(in_features), 1/sqrt(in_features))`` bias.

    Examples:
        >>> fc = Linear(20, 30)
        >>> fc(np.zeros((128, 20), np.float32)).shape
        (128, 30)
    """

    _kernels = (linear_forward, linear_backward)
    _kernel_params = ("weight", "bias")

    def __init__(self, in_features: int, out_features: int, bias: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(init.default_weight((self.out_features, self.in_features)))
        self.bias = Parameter(init.default_bias((self.out_features,), self.in_features)) if bias else None

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.describe()}: expected input (*, {self.in_features}), got shape {x.shape}")
        return super().forward_pass(x)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The forward's ``x @ w.T + b`` without its cache and layer plumbing (what a streaming model's
        small products spend most of their time in)."""
        w = self.weight.data
        if type(x) is not np.ndarray or x.ndim < 1 or x.shape[-1] != self.in_features or x.dtype != w.dtype:
            return self.forward_pass(x)[0]
        y = matmul(x, w.T)
        if self.bias is not None:
            b = self.bias.data
            y = np.add(y, b, out=y if b.dtype != y.dtype else out_for(y))  # another dtype: y's, as y += b
        return y

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, "bias": self.bias is not None}
