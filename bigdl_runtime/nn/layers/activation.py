"""Activation layers: ReLU and friends, PReLU (learned slopes), Softmax and LogSoftmax.

All but PReLU are parameter-free wrappers of one kernel pair from
:mod:`bigdl_runtime.kernels.activation`; they accept any input shape
(Softmax/LogSoftmax need ``dim`` to exist) and return an output of the same shape.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import activation as K
from ...kernels.elementwise import typed
from ..kernel_layer import _KernelLayer
from ..module import Module, Parameter


class _Activation(_KernelLayer):
    """Base of the parameter-free activations: one kernel pair, configured by ``get_config()``.

    Shape:
        - Input: ``(*)``, any shape.
        - Output: ``(*)``, same shape as the input.
    """

    #: whether a call passes more than the input to the kernels (set per class: a class with a configuration,
    #: parameters or its own forward does)
    _configured: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._configured = bool(cls._kernel_params) or any(
            getattr(cls, name) is not getattr(base, name) for name, base in (
                ("get_config", Module), ("_kernel_config", _Activation), ("forward_pass", _KernelLayer),
                ("_call", _KernelLayer)))

    def _kernel_config(self) -> dict[str, Any]:
        return self.get_config()

    def infer(self, x: Any) -> Any:
        """An activation without configuration (Sigmoid, Tanh, ...) on an array: its inference kernel (else
        its forward's output) called directly, without the layer plumbing (a third of a small call)."""
        if self._configured or type(x) is not np.ndarray:
            return super().infer(x)
        kernels = self._kernels
        try:
            return kernels[2](x) if len(kernels) > 2 else kernels[0](x)[0]
        except ValueError as err:
            raise ValueError(f"{self.describe()}: {err}") from None


class ReLU(_Activation):
    """max(x, 0), elementwise.

    Examples:
        >>> ReLU()(np.array([-1.0, 2.0], np.float32))
        array([0., 2.], dtype=float32)
    """

    _kernels = (K.relu_forward, K.relu_backward)

    def _kernel_config(self) -> dict[str, Any]:
        return {"keep_mask": self.training}  # in evaluation mode the backward derives it from the output

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The forward's ``max(x, 0)`` alone (no cache, no layer plumbing)."""
        if type(x) is np.ndarray:
            return np.maximum(x, typed(0, x.dtype))
        return self.forward_pass(x)[0]


class LeakyReLU(_Activation):
    """x where x > 0, else ``negative_slope * x``.

    Args:
        negative_slope: slope for negative inputs. Default: 0.01.
    """

    _kernels = (K.leaky_relu_forward, K.leaky_relu_backward, K.leaky_relu_infer)

    def __init__(self, negative_slope: float = 0.01, name: str | None = None) -> None:
        super().__init__(name=name)
        self.negative_slope = float(negative_slope)

    def get_config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


class ELU(_Activation):
    """x where x > 0, else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: saturation value for negative inputs. Default: 1.0.
    """

    _kernels = (K.elu_forward, K.elu_backward)

    def __init__(self, alpha: float = 1.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.alpha = float(alpha)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha}


class SELU(_Activation):
    """Scaled ELU with the fixed self-normalising constants (scale ~1.0507, alpha ~1.6733)."""

    _kernels = (K.selu_forward, K.selu_backward)


class GELU(_Activation):
    """x * Phi(x), Phi the standard normal CDF.

    Args:
        approximate: ``"none"`` (exact, via erf) or ``"tanh"`` (the tanh approximation). Default: "none".
    """

    _kernels = (K.gelu_forward, K.gelu_backward)

    def __init__(self, approximate: str = "none", name: str | None = None) -> None:
        super().__init__(name=name)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def get_config(self) -> dict[str, Any]:
        return {"approximate": self.approximate}


class Sigmoid(_Activation):
    """1 / (1 + exp(-x)), computed without overflow."""

    _kernels = (K.sigmoid_forward, K.sigmoid_backward, K.sigmoid_infer)


class Tanh(_Activation):
    """tanh(x)."""

    _kernels = (K.tanh_forward, K.tanh_backward)


class Hardsigmoid(_Activation):
    """clip(alpha * x + beta, 0, 1).

    Args:
        alpha: slope. Default: 1/6 (PyTorch); ONNX HardSigmoid's default is 0.2.
        beta: offset. Default: 0.5 (PyTorch and ONNX).
    """

    aliases = ("HardSigmoid",)
    _kernels = (K.hard_sigmoid_forward, K.hard_sigmoid_backward, K.hard_sigmoid_infer)

    def __init__(self, alpha: float = 1.0 / 6.0, beta: float = 0.5, name: str | None = None) -> None:
        super().__init__(name=name)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta}


class Hardswish(_Activation):
    """x * clip(x / 6 + 1/2, 0, 1) (MobileNetV3)."""

    aliases = ("HardSwish",)
    _kernels = (K.hard_swish_forward, K.hard_swish_backward, K.hard_swish_infer)


class Softplus(_Activation):
    """log(1 + exp(beta * x)) / beta, linear where ``beta * x > threshold``.

    Args:
        beta: sharpness. Default: 1.0.
        threshold: above this value of ``beta * x`` the output is ``x``. Default: 20.0.
    """

    aliases = ("SoftPlus",)
    _kernels = (K.softplus_forward, K.softplus_backward)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.beta = float(beta)
        self.threshold = float(threshold)

    def get_config(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}


class _Normalize(_Activation):
    """Base of Softmax and LogSoftmax: a kernel along ``dim``."""

    def __init__(self, dim: int = -1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = int(dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def _kernel_config(self) -> dict[str, Any]:
        return {"axis": self.dim}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self.describe()}: dim {self.dim} is out of range for a {x.ndim}-D input {x.shape}")
        return super().forward_pass(x)


class Softmax(_Normalize):
    """exp(x) / sum(exp(x)) along ``dim``.

    Args:
        dim: the axis that sums to one. Default: -1 (the last).

    Examples:
        >>> Softmax(dim=1)(np.zeros((2, 4), np.float32))[0]
        array([0.25, 0.25, 0.25, 0.25], dtype=float32)
    """

    aliases = ("SoftMax",)
    _kernels = (K.softmax_forward, K.softmax_backward)


class LogSoftmax(_Normalize):
    """log(softmax(x)) along ``dim``, computed stably as ``x - logsumexp(x)``.

    Args:
        dim: the normalised axis. Default: -1 (the last).
    """

    aliases = ("LogSoftMax",)
    _kernels = (K.log_softmax_forward, K.log_softmax_backward)


class PReLU(_KernelLayer):
    """x where x > 0, else ``a * x`` with a learned slope ``a``.

    Args:
        num_parameters: 1 (one slope shared by all channels) or the number of
            channels C (one slope per channel, axis 1). Default: 1.
        init: initial value of every slope. Default: 0.25.

    Shape:
        - Input: ``(N, C, *)`` (any shape when ``num_parameters == 1``).
        - Output: same shape as the input.

    Examples:
        >>> m = PReLU(3)
        >>> y = m(np.zeros((2, 3, 4, 4), np.float32))
    """

    _kernels = (K.prelu_forward, K.prelu_backward)
    _kernel_params = ("weight",)

    def __init__(self, num_parameters: int = 1, init: float = 0.25, name: str | None = None) -> None:
        super().__init__(name=name)
        self.num_parameters = int(num_parameters)
        self.init = float(init)
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype=np.float32))

    def get_config(self) -> dict[str, Any]:
        return {"num_parameters": self.num_parameters, "init": self.init}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if self.num_parameters > 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise ValueError(f"{self.describe()}: expected input (N, {self.num_parameters}, ...), got {x.shape}")
        return super().forward_pass(x)
