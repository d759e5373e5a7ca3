"""Convolution layers: Conv1d, Conv2d (BigDL ``SpatialConvolution``) and ConvTranspose2d
(BigDL ``SpatialFullConvolution``). One base class holds parameters, the gradient step and the
config; the subclasses only say how their arguments map onto the kernels."""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from ...kernels.conv import conv1d_backward, conv1d_forward, conv2d_backward, conv2d_forward
from ...kernels.conv_infer import apply_relu, direct_plan
from ...kernels.activation import relu_backward
from ...kernels.conv_transpose import conv_transpose2d_backward, conv_transpose2d_forward
from .. import init
from ..kernel_layer import _KernelLayer, memoized
from ..module import Parameter

IntOrSeq = int | Sequence[int]


def _ints(value: IntOrSeq, n: int, what: str) -> list[int]:
    """An int or a length-n sequence as a list of n ints."""
    if isinstance(value, (int, np.integer)):
        return [int(value)] * n
    vals = [int(v) for v in value]
    if len(vals) != n:
        raise ValueError(f"{what} must be an int or {n} ints, got {value!r}")
    return vals


class _ConvNd(_KernelLayer):
    """Shared parameters, input check and config of the convolution layers."""

    _spatial = 2  # number of spatial axes
    _kernel_params = ("weight", "bias")

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrSeq, stride: IntOrSeq,
                 dilation: IntOrSeq, groups: int, bias: bool, transposed: bool, name: str | None) -> None:
        super().__init__(name=name)
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        if self.groups < 1 or self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups {groups}")
        n = self._spatial
        self.kernel_size = _ints(kernel_size, n, "kernel_size")
        self.stride = _ints(stride, n, "stride")
        self.dilation = _ints(dilation, n, "dilation")
        if min(self.kernel_size + self.stride + self.dilation) < 1:
            raise ValueError(f"{type(self).__name__}: kernel_size, stride and dilation must be >= 1")
        if transposed:
            shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        else:
            shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(init.default_weight(shape))
        fan_in = init.fans(shape)[0]
        self.bias = Parameter(init.default_bias((self.out_channels,), fan_in)) if bias else None

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 2 + self._spatial or x.shape[1] != self.in_channels:
            dims = "L" if self._spatial == 1 else "H, W"
            raise ValueError(f"{self.describe()}: expected input (N, {self.in_channels}, {dims}), got shape {x.shape}")

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        x = np.asarray(x)
        self._check_input(x)
        return super().forward_pass(x)

    def _direct_args(self) -> tuple[tuple[int, int], list[int], tuple[int, int]] | None:
        """(stride, padding, dilation) of the layer as a 2-D convolution for the direct inference path,
        or None for a layer without one (transposed)."""
        return None

    def infer_with_relu(self, x: np.ndarray, relu: bool | float = False) -> np.ndarray:
        """The output for ``x`` without a context (then max(., 0), clipped at ``relu`` when a number).

        A small problem (few output values) runs the direct path of :mod:`~bigdl_runtime.kernels.conv_infer`,
        planned once per input shape; others the forward kernel. Conv1d runs as a height-1 Conv2d.
        """
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        w = self.weight.data
        run = memoized(self, (x.shape, x.dtype, w.dtype), lambda: self._direct_plan(x, w))  # checks x when new
        if run is None:
            if relu is False:
                return self.forward_pass(x)[0]
            if self._spatial == 1:  # conv1d's kernel has no fused activation
                return apply_relu(self.forward_pass(x)[0], relu)
            return self._call(functools.partial(self._kernels[0], relu=relu), (x,))[0]
        b = None if self.bias is None else self.bias.data
        if self._spatial == 1:
            return apply_relu(run(x[:, :, None, :], w[:, :, None, :], b)[:, :, 0, :], relu)
        return apply_relu(run(x, w, b), relu)

    def infer(self, x: np.ndarray) -> np.ndarray:
        return self.infer_with_relu(x)

    def _direct_plan(self, x: np.ndarray, w: np.ndarray) -> Any:
        """The direct path's plan for inputs of ``x``'s shape and dtype (None: none), once ``x`` is checked."""
        self._check_input(x)
        x_shape, x_dtype = x.shape, x.dtype
        args = self._direct_args()
        if args is None:
            return None
        if self._spatial == 1:
            x_shape, w_shape = (x_shape[0], x_shape[1], 1, x_shape[2]), (w.shape[0], w.shape[1], 1, w.shape[2])
        else:
            w_shape = w.shape
        return direct_plan(x_shape, w_shape, x_dtype, w.dtype, *args, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over an NCHW batch.

    Args:
        in_channels: channels of the input.
        out_channels: channels produced.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw).
        padding: int, (ph, pw), (top, left, bottom, right), ``"valid"`` (no padding) or
            ``"same"`` (stride 1 only; output size = input size, any odd remainder at the
            bottom/right as PyTorch).
        dilation: int or (dh, dw): spacing between kernel taps.
        groups: input and output channels are split into this many independent groups;
            ``groups == in_channels`` is a depthwise convolution.
        bias: learn an additive bias per output channel.
        name: optional layer name.

    Shape:
        - Input: ``(N, in_channels, H, W)``.
        - Output: ``(N, out_channels, Ho, Wo)`` with
          ``Ho = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1`` (same for W).

    The weight ``(out_channels, in_channels // groups, kh, kw)`` and bias are initialised like
    PyTorch (kaiming-uniform with ``a = sqrt(5)``; bias ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``).

    Examples:
        >>> conv = Conv2d(3, 16, 3, stride=2, padding=1)
        >>> conv(np.zeros((8, 3, 32, 32), np.float32)).shape
        (8, 16, 16, 16)
    """

    aliases = ("SpatialConvolution", "SpatialDilatedConvolution")
    _kernels = (conv2d_forward, conv2d_backward)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrSeq, stride: IntOrSeq = 1,
                 padding: IntOrSeq | str = 0, dilation: IntOrSeq = 1, groups: int = 1, bias: bool = True,
                 name: str | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, dilation, groups, bias,
                         transposed=False, name=name)
        self.padding = _conv_padding(padding, self.stride, 2, type(self).__name__)

    def _kernel_config(self) -> dict[str, Any]:
        return dict(stride=self.stride, padding=_resolve_padding(self.padding, self.kernel_size, self.dilation),
                    dilation=self.dilation, groups=self.groups)

    def _direct_args(self) -> tuple[tuple[int, int], list[int], tuple[int, int]]:
        pads = _resolve_padding(self.padding, self.kernel_size, self.dilation)
        return tuple(self.stride), pads, tuple(self.dilation)

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "dilation": self.dilation, "groups": self.groups, "bias": self.bias is not None}


class ConvReLU2d(Conv2d):
    """``max(Conv2d(x), 0)`` as one layer (PyTorch's ``ConvReLU2d``): the activation is applied
    block by block while the convolution's output is still in cache, saving the separate ReLU's
    pass over memory and its mask. :func:`~bigdl_runtime.nn.fuse.fuse_for_inference` builds it
    from a ``Conv2d`` (+ ``BatchNorm2d``) followed by a ``ReLU`` (or a ``ReLU6``: ``max_value=6``,
    ``min(max(Conv2d(x), 0), 6)``); it also trains (the gradient is masked by ``0 < y (< max_value)``
    first). Same arguments and weights as :class:`Conv2d` plus ``max_value``; saved as itself,
    exported to ONNX as ``Conv`` + ``Relu`` (``Conv`` + ``Clip`` with a ``max_value``).

    Examples:
        >>> layer = ConvReLU2d(3, 8, 3, padding=1)
        >>> bool((layer(np.random.rand(1, 3, 5, 5).astype(np.float32)) >= 0).all())
        True
        >>> relu6 = ConvReLU2d(3, 8, 3, padding=1, max_value=6.0)
    """

    def __init__(self, *args: Any, max_value: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_value = None if max_value is None else float(max_value)

    def _kernel_config(self) -> dict[str, Any]:
        return dict(super()._kernel_config(), relu=True if self.max_value is None else self.max_value)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return config if self.max_value is None else {**config, "max_value": self.max_value}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        y, cache = super().forward_pass(x)
        return y, (cache, y)

    def infer(self, x: np.ndarray) -> np.ndarray:
        return self.infer_with_relu(x, True if self.max_value is None else self.max_value)

    def backward_pass(self, grad_output: np.ndarray, ctx: Any) -> np.ndarray:
        cache, y = ctx
        if self.max_value is None:
            return super().backward_pass(relu_backward(grad_output, y)[0], cache)
        inside = (y > 0) & (y < self.max_value)
        return super().backward_pass(np.where(inside, grad_output, 0).astype(grad_output.dtype, copy=False), cache)


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over an (N, C, L) batch.

    Args:
        in_channels: channels of the input.
        out_channels: channels produced.
        kernel_size: int.
        stride: int.
        padding: int, (left, right), ``"valid"`` or ``"same"`` (stride 1 only).
        dilation: int: spacing between kernel taps.
        groups: independent channel groups (``groups == in_channels`` is depthwise).
        bias: learn an additive bias per output channel.
        name: optional layer name.

    Shape:
        - Input: ``(N, in_channels, L)``.
        - Output: ``(N, out_channels, Lo)``, ``Lo = (L + left + right - dilation * (k - 1) - 1) // stride + 1``.

    The weight ``(out_channels, in_channels // groups, k)`` and bias use PyTorch's default init.

    Examples:
        >>> conv = Conv1d(4, 8, 5, padding="same")
        >>> conv(np.zeros((2, 4, 100), np.float32)).shape
        (2, 8, 100)
    """

    _spatial = 1
    _kernels = (conv1d_forward, conv1d_backward)

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrSeq, stride: IntOrSeq = 1,
                 padding: IntOrSeq | str = 0, dilation: IntOrSeq = 1, groups: int = 1, bias: bool = True,
                 name: str | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, dilation, groups, bias,
                         transposed=False, name=name)
        self.padding = _conv_padding(padding, self.stride, 1, type(self).__name__)

    def _kernel_config(self) -> dict[str, Any]:
        pads = _resolve_padding(self.padding, self.kernel_size, self.dilation)
        return dict(stride=self.stride[0], padding=(pads[0], pads[-1]) if len(pads) == 2 else pads[0],
                    dilation=self.dilation[0], groups=self.groups)

    def _direct_args(self) -> tuple[tuple[int, int], list[int], tuple[int, int]]:
        pads = _resolve_padding(self.padding, self.kernel_size, self.dilation)
        return (1, self.stride[0]), [0, pads[0], 0, pads[-1]], (1, self.dilation[0])

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size[0], "stride": self.stride[0], "padding": self.padding,
                "dilation": self.dilation[0], "groups": self.groups, "bias": self.bias is not None}


class ConvTranspose2d(_ConvNd):
    """2-D transposed convolution ("deconvolution"), the gradient of Conv2d w.r.t. its input.

    Args:
        in_channels: channels of the input.
        out_channels: channels produced.
        kernel_size: int or (kh, kw).
        stride: int or (sh, sw): up-sampling factor.
        padding: int, (ph, pw) or (top, left, bottom, right), cropped from the full output.
        output_padding: int or (h, w) added to the bottom/right of the output size; smaller
            than the stride or the dilation.
        groups: independent channel groups.
        bias: learn an additive bias per output channel.
        dilation: int or (dh, dw): spacing between kernel taps.
        name: optional layer name.

    Shape:
        - Input: ``(N, in_channels, H, W)``.
        - Output: ``(N, out_channels, Hout, Wout)`` with
          ``Hout = (H - 1) * sh - top - bottom + dh * (kh - 1) + output_padding_h + 1``.

    The weight is ``(in_channels, out_channels // groups, kh, kw)`` as PyTorch and ONNX, with
    PyTorch's default init.

    Examples:
        >>> up = ConvTranspose2d(16, 8, 4, stride=2, padding=1)
        >>> up(np.zeros((2, 16, 10, 10), np.float32)).shape
        (2, 8, 20, 20)
    """

    aliases = ("SpatialFullConvolution",)
    _kernels = (conv_transpose2d_forward, conv_transpose2d_backward)
    _kernel_keywords = {key: key for key in ("stride", "padding", "output_padding", "dilation", "groups")}

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrSeq, stride: IntOrSeq = 1,
                 padding: IntOrSeq = 0, output_padding: IntOrSeq = 0, groups: int = 1, bias: bool = True,
                 dilation: IntOrSeq = 1, name: str | None = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, dilation, groups, bias,
                         transposed=True, name=name)
        self.padding = _explicit_padding(padding, 2, type(self).__name__)
        self.output_padding = _ints(output_padding, 2, "output_padding")
        for op, s, d in zip(self.output_padding, self.stride, self.dilation):
            if not 0 <= op < max(s, d):
                raise ValueError(f"{type(self).__name__}: output_padding {self.output_padding} must be smaller "
                                 f"than stride {self.stride} or dilation {self.dilation}")

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels,
                "kernel_size": self.kernel_size, "stride": self.stride, "padding": self.padding,
                "output_padding": self.output_padding, "groups": self.groups, "bias": self.bias is not None,
                "dilation": self.dilation}


# ------------------------------------------------------------------ padding helpers
def _explicit_padding(padding: IntOrSeq, n: int, layer: str) -> list[int]:
    """Padding as a list of n (symmetric) or 2n (begin..., end...) non-negative ints."""
    if isinstance(padding, (int, np.integer)):
        vals = [int(padding)] * n
    else:
        vals = [int(p) for p in padding]
        if len(vals) not in (n, 2 * n):
            raise ValueError(f"{layer}: padding must be an int, {n} ints or {2 * n} ints, got {padding!r}")
    if min(vals) < 0:
        raise ValueError(f"{layer}: padding must be non-negative, got {padding!r}")
    return vals


def _conv_padding(padding: IntOrSeq | str, stride: list[int], n: int, layer: str) -> list[int] | str:
    """Validated padding as given: ``"same"``, ``"valid"`` or a list of ints."""
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer}: padding string must be 'same' or 'valid', got {padding!r}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError(f"{layer}: padding='same' needs stride 1, got stride {stride}")
        return padding
    return _explicit_padding(padding, n, layer)


def _resolve_padding(padding: list[int] | str, kernel: list[int], dilation: list[int]) -> list[int]:
    """Padding as the kernel takes it: n symmetric ints or (begin..., end...)."""
    if padding == "valid":
        return [0] * len(kernel)
    if padding == "same":
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [t // 2 for t in totals] + [t - t // 2 for t in totals]
    return list(padding)
