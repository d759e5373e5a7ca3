"""Quantised layers, computed as onnxruntime does: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv (see :mod:`bigdl_runtime.kernels.quantize` and
:mod:`bigdl_runtime.kernels.dynamic_quantize`).

Scales and zero points are inputs (an imported model feeds its constants), so one
layer serves per-tensor, per-axis and blocked quantisation. These layers have
**no gradient**: their inputs or outputs are integers, and ``backward`` raises a
clear error (to fine-tune a quantised model, import its float version).
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from ...kernels import quantize as K
from ...kernels.dynamic_quantize import dynamic_quantize_linear
from ..kernel_layer import as_inputs, call_kernel
from ..module import Module


class _Quantized(Module):
    """Base: checks the number of inputs, runs ``_compute``, refuses ``backward``."""

    _inputs: ClassVar[tuple[int, int]]  # (fewest, most) inputs

    def _compute(self, *xs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, None]:
        xs = as_inputs(inputs)
        low, high = self._inputs
        if not low <= len(xs) <= high:
            raise ValueError(f"{self.describe()}: expected {low} to {high} inputs, got {len(xs)}")
        return call_kernel(self, self._compute, *xs), None

    def backward_pass(self, grad_output: Any, ctx: None) -> Any:
        raise RuntimeError(f"{self.describe()} has no gradient: quantised (integer) tensors are not "
                           "differentiable (fine-tune the float model instead)")


class QuantizeLinear(_Quantized):
    """``saturate(round_half_to_even(x / scale) + zero_point)`` (ONNX QuantizeLinear).

    Args:
        axis: the axis of a per-axis or blocked scale. Default: 1.
        block_size: elements per block along ``axis`` (0: per tensor or per axis).
        dtype: the output type when no zero point is given (uint8, int8, uint16, int16).

    Shape:
        - Inputs: ``x`` (float), ``scale``, optional ``zero_point`` (its type is the output's).

    Examples:
        >>> QuantizeLinear()(np.array([0.5, 1.5, 300.0], np.float32), np.float32(1.0))
        array([  0,   2, 255], dtype=uint8)
    """

    _inputs = (2, 3)

    def __init__(self, axis: int = 1, block_size: int = 0, dtype: str = "uint8", name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis, self.block_size, self.dtype = int(axis), int(block_size), str(np.dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "block_size": self.block_size, "dtype": self.dtype}

    def _compute(self, x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None) -> np.ndarray:
        return K.quantize_linear(x, scale, zero_point, self.axis, self.block_size, self.dtype)


class DequantizeLinear(_Quantized):
    """``(q - zero_point) * scale`` in the scale's float type (ONNX DequantizeLinear).

    Args:
        axis: the axis of a per-axis or blocked scale. Default: 1.
        block_size: elements per block along ``axis`` (0: per tensor or per axis).
    """

    _inputs = (2, 3)

    def __init__(self, axis: int = 1, block_size: int = 0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.axis, self.block_size = int(axis), int(block_size)

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis, "block_size": self.block_size}

    def _compute(self, q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None) -> np.ndarray:
        return K.dequantize_linear(q, scale, zero_point, self.axis, self.block_size)


class DynamicQuantizeLinear(_Quantized):
    """A float tensor quantised to uint8 over its own range (ONNX DynamicQuantizeLinear).

    ``scale = (max(x, 0) - min(x, 0)) / 255`` (1 for an all-zero ``x``, as onnxruntime),
    ``zero_point = round_half_to_even(-min(x, 0) / scale)``, ``q = saturate(rint(x / scale) + zero_point)``.

    Shape:
        - Input: ``x`` (float32).
        - Outputs: ``(q, scale, zero_point)``: ``q`` shaped as ``x`` (uint8), two scalars (float32, uint8).

    Examples:
        >>> DynamicQuantizeLinear()(np.array([-1.0, 0.0, 2.0], np.float32))[0]
        array([  0,  85, 255], dtype=uint8)
    """

    _inputs = (1, 1)

    def _compute(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return dynamic_quantize_linear(x)


class MatMulInteger(_Quantized):
    """``(a - a_zero_point) @ (b - b_zero_point)`` in int32 (ONNX MatMulInteger).

    Shape:
        - Inputs: ``a``, ``b`` (8-bit integers), ``a_zero_point`` (scalar or per row),
          ``b_zero_point`` (scalar or per column).
    """

    _inputs = (4, 4)

    def _compute(self, a: np.ndarray, b: np.ndarray, a_zero_point: np.ndarray,
                 b_zero_point: np.ndarray) -> np.ndarray:
        return K.matmul_integer(a, b, a_zero_point, b_zero_point)


class _ConvConfig(_Quantized):
    """Base of the quantised 2-D convolutions: stride, ONNX begin/end padding, dilation, groups."""

    def __init__(self, stride: Sequence[int] = (1, 1), padding: Sequence[int] = (0, 0, 0, 0),
                 dilation: Sequence[int] = (1, 1), groups: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.stride = [int(s) for s in stride]
        self.padding = [int(p) for p in padding]
        self.dilation = [int(d) for d in dilation]
        self.groups = int(groups)

    def get_config(self) -> dict[str, Any]:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation, "groups": self.groups}

    def _conv(self, x: np.ndarray, w: np.ndarray, x_zero_point: np.ndarray, w_zero_point: np.ndarray) -> np.ndarray:
        return K.conv_integer(x, w, x_zero_point, w_zero_point, self.stride, self.padding, self.dilation, self.groups)


class ConvInteger(_ConvConfig):
    """The int32 2-D convolution of ``x - x_zero_point`` by ``w - w_zero_point`` (ONNX ConvInteger).

    Args:
        stride, dilation: (h, w). padding: (top, left, bottom, right). groups: channel groups.

    Shape:
        - Inputs: ``x`` (N, C, H, W) and ``w`` (O, C / groups, kh, kw), 8-bit integers;
          ``x_zero_point`` (scalar), ``w_zero_point`` (scalar or per output channel).
    """

    _inputs = (4, 4)

    def _compute(self, x: np.ndarray, w: np.ndarray, x_zero_point: np.ndarray,
                 w_zero_point: np.ndarray) -> np.ndarray:
        return self._conv(x, w, x_zero_point, w_zero_point)


class QLinearMatMul(_Quantized):
    """Quantised matrix product requantised to ``y``'s scale and zero point (ONNX QLinearMatMul).

    Shape:
        - Inputs: ``a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point``.
        - Output: ``y_zero_point``'s type.
    """

    _inputs = (8, 8)

    def _compute(self, a: np.ndarray, a_scale: np.ndarray, a_zero_point: np.ndarray, b: np.ndarray,
                 b_scale: np.ndarray, b_zero_point: np.ndarray, y_scale: np.ndarray,
                 y_zero_point: np.ndarray) -> np.ndarray:
        acc = K.matmul_integer(a, b, a_zero_point, b_zero_point)
        return K.requantize(acc, a_scale * b_scale / y_scale, y_zero_point, y_zero_point.dtype)


class QLinearConv(_ConvConfig):
    """Quantised 2-D convolution (int32 bias added) requantised to ``y``'s scale and zero point (ONNX QLinearConv).

    Args:
        stride, dilation: (h, w). padding: (top, left, bottom, right). groups: channel groups.

    Shape:
        - Inputs: ``x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point[, bias]``;
          ``w_scale`` and ``w_zero_point`` may be per output channel, ``bias`` is int32.
        - Output: ``y_zero_point``'s type.
    """

    _inputs = (8, 9)

    def _compute(self, x: np.ndarray, x_scale: np.ndarray, x_zero_point: np.ndarray, w: np.ndarray,
                 w_scale: np.ndarray, w_zero_point: np.ndarray, y_scale: np.ndarray, y_zero_point: np.ndarray,
                 bias: np.ndarray | None = None) -> np.ndarray:
        acc = self._conv(x, w, x_zero_point, w_zero_point).astype(np.int64)
        if bias is not None:
            acc += np.asarray(bias).reshape(1, -1, 1, 1)
        w_scale = np.asarray(w_scale)
        multiplier = x_scale * (w_scale.reshape(1, -1, 1, 1) if w_scale.size > 1 else w_scale) / y_scale
        return K.requantize(acc, multiplier, y_zero_point, y_zero_point.dtype)
