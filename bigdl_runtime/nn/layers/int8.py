"""int8 layers made by :func:`bigdl_runtime.quantize`: QuantizedConv2d, QuantizedConvAdd2d (a convolution with
a residual Add, and the ReLU after it, fused in), QuantizedLinear, and Dequantize (uint8 back to float32 for a
float consumer).

Weights are int8, symmetric per output channel (``w ~ weight * weight_scale[o]``); the input is quantised per
tensor to uint8 (``x ~ (x_q - input_zero_point) * input_scale``), the product accumulates in int32 and is
scaled back to float32, the float32 bias added and an optional ReLU (or ReLU capped at ``max_value``)
applied, all in one oneDNN int8 primitive (:mod:`~bigdl_runtime.kernels.onednn_int8`; the numpy integer
path of :mod:`~bigdl_runtime.kernels.quantize` when oneDNN is missing). With ``output_scale`` set, the
output is requantised to uint8 in the same primitive for the next int8 layer, which reads it as it is
(quantize() sets it only where that layer is the sole consumer; its ``input_*`` then equal ``output_*``).
Convolutions whose output stays inside the model return it as a view of NHWC memory (``channels_last``).
A float input is quantised on the way in; a uint8 input is taken as already quantised with ``input_*`` only by a
layer made to receive one (``quantized_input``), so raw uint8 images are values, as for the float model.
quantize() passes uint8 on wherever the consumer takes it: int8 layers, the residual of a QuantizedConvAdd2d,
MaxPool2d (max commutes with the monotone quantisation: pooling the uint8 values is exact); a float consumer
of a uint8 value reads it through a Dequantize.

Scales are config (plain numbers), the int8 weight, per-channel scales and bias are buffers: the model file
stores the weight as int8 bytes. These layers are inference-only (``backward`` raises: fine-tune the float
model and quantise again).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ...kernels import onednn_int8, quantize as K
from ...kernels.conv_geometry import ConvGeometry
from ..module import Module
from .conv import _conv_padding, _ints, _resolve_padding


class _Int8Layer(Module):
    """Shared quantisation config, buffers and numpy fallback of the int8 layers."""

    def __init__(self, out_channels: int, weight_shape: tuple[int, ...], bias: bool, input_scale: float,
                 input_zero_point: int, relu: bool, max_value: float | None, output_scale: float | None,
                 output_zero_point: int, channels_last: bool, quantized_input: bool, name: str | None) -> None:
        super().__init__(name=name)
        if not input_scale > 0 or (output_scale is not None and not output_scale > 0):
            raise ValueError(f"{type(self).__name__}: scales must be positive, got input_scale {input_scale}, "
                             f"output_scale {output_scale}")
        for what, zp in (("input_zero_point", input_zero_point), ("output_zero_point", output_zero_point)):
            if not 0 <= int(zp) <= 255:
                raise ValueError(f"{type(self).__name__}: {what} must be a uint8 value, got {zp}")
        self.input_scale, self.input_zero_point = float(input_scale), int(input_zero_point)
        self.relu = bool(relu) or max_value is not None
        self.max_value = None if max_value is None else float(max_value)
        self.output_scale = None if output_scale is None else float(output_scale)
        self.output_zero_point = int(output_zero_point)
        self.channels_last = bool(channels_last)
        self.quantized_input = bool(quantized_input)
        self.register_buffer("weight", np.zeros(weight_shape, np.int8))
        self.register_buffer("weight_scale", np.ones(out_channels, np.float32))
        if bias:
            self.register_buffer("bias", np.zeros(out_channels, np.float32))
        else:
            self.bias = None
        self.training = False

    def register_buffer(self, key: str, value: np.ndarray) -> None:
        """As :meth:`Module.register_buffer`; the int8 ``weight`` is kept as a read-only copy, because the
        kernels cache its packed form per array: replace it (this method, or loading a file), never write
        into it."""
        if key == "weight" and value is not None:
            value = np.array(value, dtype=np.int8)
            value.flags.writeable = False
        super().register_buffer(key, value)

    def _quant_config(self) -> dict[str, Any]:
        return {"bias": self.bias is not None, "input_scale": self.input_scale,
                "input_zero_point": self.input_zero_point, "relu": self.relu, "max_value": self.max_value,
                "output_scale": self.output_scale, "output_zero_point": self.output_zero_point,
                "quantized_input": self.quantized_input}

    def _kernel_args(self) -> dict[str, Any]:
        out = {} if self.output_scale is None else dict(y_scale=self.output_scale, y_zero_point=self.output_zero_point,
                                                        y_dtype=np.uint8)
        relu = False if not self.relu else (True if self.max_value is None else self.max_value)
        return dict(x_scale=self.input_scale, x_zero_point=self.input_zero_point, x_dtype=np.uint8,
                    w_scale=self.weight_scale, bias=self.bias, relu=relu, **out)

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        """x as float32, or as it is when it is uint8 and the layer takes quantised input."""
        x = np.asarray(x)
        if x.dtype == np.uint8 and self.quantized_input:
            return x
        if x.dtype != np.float32:
            return x.astype(np.float32)
        return x

    def _finish(self, acc: np.ndarray, channel_axis: int, addend: np.ndarray | None = None) -> np.ndarray:
        """The numpy path's float32 (or requantised uint8) output from the int32 accumulator (plus ``addend``,
        float, before the ReLU)."""
        view = [1] * acc.ndim
        view[channel_axis] = -1
        scale = (np.float32(self.input_scale) * self.weight_scale).reshape(view)
        y = acc * scale
        if self.bias is not None:
            y += self.bias.reshape(view)
        if addend is not None:
            y += addend
        if self.relu:
            y = np.clip(y, 0, self.max_value)
        y = y.astype(np.float32)
        if self.output_scale is None:
            return y
        return K.quantize_linear(y, np.float32(self.output_scale), np.array(self.output_zero_point, np.uint8))

    def _quantized(self, x: np.ndarray) -> np.ndarray:
        if x.dtype == np.uint8:
            return x
        return K.quantize_linear(x, np.float32(self.input_scale), np.array(self.input_zero_point, np.uint8))

    def backward_pass(self, grad_output: Any, ctx: Any) -> Any:
        raise RuntimeError(f"{self.describe()} is an int8 inference layer and has no gradient "
                           "(fine-tune the float model, then quantise it again)")


class QuantizedConv2d(_Int8Layer):
    """An int8 2-D convolution (PyTorch's ``torch.ao.nn.quantized.Conv2d`` with float32 in and out).

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as :class:`Conv2d`.
        input_scale, input_zero_point: the input's uint8 quantisation (per tensor).
        relu: apply max(., 0) before any requantisation; ``max_value``: clip there instead (ReLU6).
        output_scale, output_zero_point: requantise the output to uint8 with these (None: float32 output).
        channels_last: return the output as a view of NHWC memory, the layout the int8 kernels write and read
            (what quantize() sets for outputs that stay inside the model); otherwise float32 outputs are C order.
        quantized_input: a uint8 input is already quantised with ``input_*`` (the output of the int8 layer
            before, requantised for this one); otherwise any input is a value, cast to float32 and quantised.

    Shape:
        - Input: ``(N, in_channels, H, W)`` float32 (quantised here) or, with ``quantized_input``, uint8
          (already quantised); any strides.
        - Output: ``(N, out_channels, Ho, Wo)`` float32, or uint8 when ``output_scale`` is set.

    Buffers: ``weight`` int8 ``(out_channels, in_channels // groups, kh, kw)``, ``weight_scale`` float32
    ``(out_channels,)``, ``bias`` float32 ``(out_channels,)``.

    Examples:
        >>> conv = QuantizedConv2d(3, 8, 3, padding=1, input_scale=0.02, input_zero_point=128)
        >>> conv(np.zeros((1, 3, 5, 5), np.float32)).shape
        (1, 8, 5, 5)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, input_scale: float = 1.0,
                 input_zero_point: int = 0, relu: bool = False, max_value: float | None = None,
                 output_scale: float | None = None, output_zero_point: int = 0, channels_last: bool = False,
                 quantized_input: bool = False, name: str | None = None) -> None:
        c, o, g = int(in_channels), int(out_channels), int(groups)
        if g < 1 or c % g or o % g:
            raise ValueError(f"QuantizedConv2d: in_channels {in_channels} and out_channels {out_channels} must "
                             f"both be divisible by groups {groups}")
        kernel = _ints(kernel_size, 2, "kernel_size")
        super().__init__(o, (o, c // g, *kernel), bias, input_scale, input_zero_point, relu, max_value,
                         output_scale, output_zero_point, channels_last, quantized_input, name)
        self.in_channels, self.out_channels, self.groups, self.kernel_size = c, o, g, kernel
        self.stride, self.dilation = _ints(stride, 2, "stride"), _ints(dilation, 2, "dilation")
        self.padding = _conv_padding(padding, self.stride, 2, "QuantizedConv2d")

    def get_config(self) -> dict[str, Any]:
        return {"in_channels": self.in_channels, "out_channels": self.out_channels, "kernel_size": self.kernel_size,
                "stride": self.stride, "padding": self.padding, "dilation": self.dilation, "groups": self.groups,
                **self._quant_config(), "channels_last": self.channels_last}

    def kernel_padding(self) -> list[int]:
        """The padding as the kernels take it: (ph, pw) or (top, left, bottom, right)."""
        return _resolve_padding(self.padding, self.kernel_size, self.dilation)

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        return self._convolve(x, None, {}), None

    def _convolve(self, x: np.ndarray, addend: np.ndarray | None, sum_args: dict[str, Any]) -> np.ndarray:
        """The convolution of x, with ``addend`` (already in the form the kernel takes, see
        :func:`~bigdl_runtime.kernels.onednn_int8.conv2d_int8`) summed in before the ReLU."""
        x = self._check_input(x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self.describe()}: expected input (N, {self.in_channels}, H, W), got shape {x.shape}")
        try:
            geo = ConvGeometry(x.shape, self.weight.shape, self.stride, self.kernel_padding(), self.dilation, self.groups)
        except ValueError as err:
            raise ValueError(f"{self.describe()}: {err}") from None
        if addend is not None and tuple(addend.shape) != (geo.n, geo.o, geo.ho, geo.wo):
            raise ValueError(f"{self.describe()}: the residual must have the output's shape "
                             f"{(geo.n, geo.o, geo.ho, geo.wo)}, got {addend.shape}")
        try:
            return onednn_int8.conv2d_int8(x, self.weight, geo, channels_last=self.channels_last, addend=addend,
                                           **sum_args, **self._kernel_args())
        except onednn_int8.Unsupported:
            acc = K.conv_integer(self._quantized(x), self.weight, np.array(self.input_zero_point, np.uint8), None,
                                 self.stride, geo.pads, self.dilation, self.groups)
            if addend is not None and addend.dtype == np.uint8:
                addend = K.dequantize_linear(addend, np.float32(sum_args["addend_scale"]),
                                             np.array(sum_args["addend_zero_point"], np.uint8))
            return self._finish(acc, 1, addend)


class QuantizedConvAdd2d(QuantizedConv2d):
    """An int8 2-D convolution whose output is summed with a residual before the ReLU (a ResNet block's second
    convolution, its Add and the ReLU after it, in one oneDNN primitive: the sum post-op).

    ``y = relu(conv(x) + residual)``, requantised to ``output_*`` when ``output_scale`` is set.

    Args:
        addend_scale, addend_zero_point: the residual's uint8 quantisation: a uint8 output sums the uint8
            residual (``addend_scale * (r_q - addend_zero_point)``) where it lies in the destination.
        quantized_addend: a uint8 residual is already quantised with ``addend_*`` (else it is a value,
            quantised here for a uint8 output).
        the rest: as :class:`QuantizedConv2d` (``relu`` / ``max_value``: after the sum).

    Shape:
        - Inputs: ``x`` as :class:`QuantizedConv2d`, ``residual`` of the output's shape (float32 or uint8).
        - Output: ``(N, out_channels, Ho, Wo)`` float32, or uint8 when ``output_scale`` is set.

    Examples:
        >>> conv = QuantizedConvAdd2d(4, 4, 3, padding=1, relu=True, addend_scale=0.1, addend_zero_point=0)
        >>> conv(np.zeros((1, 4, 5, 5), np.float32), np.ones((1, 4, 5, 5), np.float32)).shape
        (1, 4, 5, 5)
    """

    def __init__(self, *args: Any, addend_scale: float = 1.0, addend_zero_point: int = 0,
                 quantized_addend: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not addend_scale > 0 or not 0 <= int(addend_zero_point) <= 255:
            raise ValueError(f"QuantizedConvAdd2d: addend_scale must be positive and addend_zero_point a uint8 "
                             f"value, got {addend_scale}, {addend_zero_point}")
        self.addend_scale, self.addend_zero_point = float(addend_scale), int(addend_zero_point)
        self.quantized_addend = bool(quantized_addend)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "addend_scale": self.addend_scale,
                "addend_zero_point": self.addend_zero_point, "quantized_addend": self.quantized_addend}

    def forward_pass(self, x: np.ndarray, residual: np.ndarray) -> tuple[np.ndarray, None]:
        r = np.asarray(residual)
        quantized = r.dtype == np.uint8 and self.quantized_addend
        scale, zero_point = np.float32(self.addend_scale), np.array(self.addend_zero_point, np.uint8)
        if self.output_scale is None:  # float32 output: the residual is summed as a float32 value
            r = K.dequantize_linear(r, scale, zero_point) if quantized else r.astype(np.float32, copy=False)
            return self._convolve(x, r, {}), None
        if not quantized:
            r = K.quantize_linear(r.astype(np.float32, copy=False), scale, zero_point)
        return self._convolve(x, r, {"addend_scale": self.addend_scale,
                                     "addend_zero_point": self.addend_zero_point}), None


class QuantizedLinear(_Int8Layer):
    """An int8 fully connected layer (``y = x W^T + b`` with int8 ``W`` and uint8 ``x``), float32 in and out.

    Args:
        in_features, out_features, bias: as :class:`Linear`.
        input_scale, input_zero_point, relu, max_value, output_scale, output_zero_point, quantized_input: as
            :class:`QuantizedConv2d`.

    Shape:
        - Input: ``(*, in_features)`` float32, or uint8 with ``quantized_input``. Output: ``(*, out_features)``.

    Examples:
        >>> fc = QuantizedLinear(20, 30, input_scale=0.1, input_zero_point=128)
        >>> fc(np.zeros((4, 20), np.float32)).shape
        (4, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, input_scale: float = 1.0,
                 input_zero_point: int = 0, relu: bool = False, max_value: float | None = None,
                 output_scale: float | None = None, output_zero_point: int = 0, quantized_input: bool = False,
                 name: str | None = None) -> None:
        super().__init__(int(out_features), (int(out_features), int(in_features)), bias, input_scale,
                         input_zero_point, relu, max_value, output_scale, output_zero_point, False, quantized_input,
                         name)
        self.in_features, self.out_features = int(in_features), int(out_features)

    def get_config(self) -> dict[str, Any]:
        return {"in_features": self.in_features, "out_features": self.out_features, **self._quant_config()}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        x = self._check_input(x)
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"{self.describe()}: expected input (*, {self.in_features}), got shape {x.shape}")
        flat = np.ascontiguousarray(x.reshape(-1, self.in_features))
        try:
            y = onednn_int8.matmul_int8(flat, self.weight.T, **self._kernel_args())
        except onednn_int8.Unsupported:
            acc = K.matmul_integer(self._quantized(flat), self.weight.T, np.array(self.input_zero_point, np.uint8))
            y = self._finish(acc, 1)
        return y.reshape(*x.shape[:-1], self.out_features), None


class Dequantize(Module):
    """A uint8 value made by an int8 layer, as float32 for a float consumer: ``(q - zero_point) * scale``
    (ONNX DequantizeLinear with constant parameters); the memory layout is kept.

    Args:
        scale, zero_point: the value's uint8 quantisation.

    Examples:
        >>> Dequantize(0.5, 10)(np.array([10, 12], np.uint8))
        array([0., 1.], dtype=float32)
    """

    def __init__(self, scale: float, zero_point: int, name: str | None = None) -> None:
        super().__init__(name=name)
        if not scale > 0 or not 0 <= int(zero_point) <= 255:
            raise ValueError(f"Dequantize: scale must be positive and zero_point a uint8 value, got {scale}, "
                             f"{zero_point}")
        self.scale, self.zero_point = float(scale), int(zero_point)
        self.training = False

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise ValueError(f"{self.describe()}: takes the uint8 output of an int8 layer, got {x.dtype}")
        y = x.astype(np.float32)
        y -= np.float32(self.zero_point)
        y *= np.float32(self.scale)
        return y, None

    def backward_pass(self, grad_output: Any, ctx: Any) -> Any:
        raise RuntimeError(f"{self.describe()} reads uint8 values and has no gradient")
