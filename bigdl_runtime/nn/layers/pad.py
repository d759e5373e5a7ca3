"""Padding layers: Pad (any rank, ONNX layout and modes) and ZeroPad2d (PyTorch layout)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import pad as K
from ..kernel_layer import _KernelLayer, call_kernel, memoized


class Pad(_KernelLayer):
    """Pad every axis, batch included, as ONNX Pad.

    Args:
        pads: ``[b_0, ..., b_{k-1}, e_0, ..., e_{k-1}]``, the begin then the end pads of
            each of the k input axes; negative values crop;
            None: they come as a second input (an integer vector computed in the graph).
        mode: ``"constant"``, ``"reflect"`` (mirror, border not repeated) or ``"edge"``
            (repeat the border). Default: "constant".
        value: fill value of constant padding. Default: 0.0.
        axes: the padded axes when the pads cover only some (ONNX Pad's ``axes``, may be
            negative): ``pads`` is then ``[begins..., ends...]`` of those axes. Default: all axes.

    Shape:
        - Input: ``(d_0, ..., d_{k-1})``, plus the pads vector when ``pads`` is None.
        - Output: ``(d_0 + b_0 + e_0, ..., d_{k-1} + b_{k-1} + e_{k-1})``. ``backward`` gives the
          pads input a ``None`` gradient.

    Examples:
        >>> Pad([0, 0, 1, 1, 0, 0, 1, 1], mode="reflect")(np.zeros((2, 3, 4, 4))).shape
        (2, 3, 6, 6)
        >>> Pad(None, axes=[-1])(np.zeros((2, 3)), np.array([1, 2])).shape
        (2, 6)
    """

    _kernels = (K.pad_forward, K.pad_backward)

    def __init__(self, pads: Sequence[int] | None, mode: str = "constant", value: float = 0.0,
                 axes: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        if mode not in ("constant", "reflect", "edge"):
            raise ValueError(f"Pad: mode must be 'constant', 'reflect' or 'edge', got {mode!r}")
        self.pads = None if pads is None else [int(p) for p in pads]
        self.mode = mode
        self.value = float(value)
        self.axes = None if axes is None else [int(a) for a in axes]

    def get_config(self) -> dict[str, Any]:
        return {"pads": self.pads, "mode": self.mode, "value": self.value, "axes": self.axes}

    def _full(self, pads: Sequence[int], rank: int) -> list[int]:
        """``pads`` of ``self.axes`` spread over all ``rank`` axes (zeros elsewhere)."""
        if self.axes is None:
            return list(pads)
        if len(pads) != 2 * len(self.axes):
            raise ValueError(f"{self.describe()}: {len(pads)} pads for the {len(self.axes)} axes {self.axes}")
        full = [0] * (2 * rank)
        for k, a in enumerate(self.axes):
            a = a + rank if a < 0 else a
            if not 0 <= a < rank:
                raise ValueError(f"{self.describe()}: axis {self.axes[k]} is out of range for rank {rank}")
            full[a], full[rank + a] = pads[k], pads[len(self.axes) + k]
        return full

    def forward_pass(self, x: np.ndarray, pads: np.ndarray | None = None) -> tuple[np.ndarray, tuple[Any, bool]]:
        if (pads is None) == (self.pads is None):
            raise ValueError(f"{self.describe()}: the pads must come from the config or the second input, "
                             "exactly one of them")
        given = self.pads if pads is None else np.asarray(pads).astype(np.int64).reshape(-1).tolist()
        y, cache = call_kernel(self, K.pad_forward, x, self._full(given, np.ndim(x)), self.mode, self.value)
        return y, (cache, pads is not None)

    def backward_pass(self, grad_output: np.ndarray, ctx: tuple[Any, bool]) -> Any:
        cache, two_inputs = ctx
        dx = super().backward_pass(grad_output, cache)
        return (dx, None) if two_inputs else dx

    def infer(self, x: np.ndarray, pads: np.ndarray | None = None) -> np.ndarray:
        """With fixed pads, the crop and the source index of every padded position are worked out once
        per input shape; a call is then a fill and a copy (constant) or one ``take`` per padded axis."""
        if pads is not None or self.pads is None:
            return self.forward_pass(x, pads)[0]
        x = np.asarray(x)
        crop, takes, out_shape, inner = memoized(self, x.shape, lambda: self._layout(x))
        cropped = x[crop]
        if self.mode == "constant":
            y = np.full(out_shape, self.value, dtype=x.dtype)
            y[inner] = cropped
            return y
        for axis, index in takes:
            cropped = np.take(cropped, index, axis=axis)
        return cropped

    def _layout(self, x: np.ndarray) -> tuple[tuple[slice, ...], list[tuple[int, np.ndarray]], tuple[int, ...],
                                               tuple[slice, ...]]:
        """(crop of x, (axis, source index) per padded axis, output shape, where the cropped input lands)."""
        y, ((_, crop, cropped_shape, widths, _), _) = self.forward_pass(x)  # checks the pads, names the layer
        takes = [(axis, np.pad(np.arange(n), width, mode=self.mode))
                 for axis, (n, width) in enumerate(zip(cropped_shape, widths)) if width != (0, 0)]
        inner = tuple(slice(b, b + n) for n, (b, _) in zip(cropped_shape, widths))
        return crop, takes, y.shape, inner


class ZeroPad2d(_KernelLayer):
    """Zero-pad the last two axes (H, W), as ``torch.nn.ZeroPad2d``.

    Args:
        padding: one int for all four sides, or ``[left, right, top, bottom]``;
            negative values crop.

    Shape:
        - Input: ``(N, C, H, W)`` or ``(C, H, W)``.
        - Output: ``(N, C, H + top + bottom, W + left + right)`` (or without N).

    Examples:
        >>> ZeroPad2d([1, 2, 0, 1])(np.zeros((1, 3, 4, 4))).shape
        (1, 3, 5, 7)
    """

    aliases = ("SpatialZeroPadding",)
    _kernels = (K.pad_forward, K.pad_backward)

    def __init__(self, padding: int | Sequence[int], name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(padding, (int, np.integer)):
            self.padding: int | list[int] = int(padding)
            sides = [self.padding] * 4
        else:
            self.padding = sides = [int(p) for p in padding]
            if len(sides) != 4:
                raise ValueError(f"ZeroPad2d: padding needs 4 values (left, right, top, bottom), got {sides}")
        self._sides = sides

    def get_config(self) -> dict[str, Any]:
        return {"padding": self.padding}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if x.ndim not in (3, 4):
            raise ValueError(f"{self.describe()}: expected (N, C, H, W) or (C, H, W), got {x.shape}")
        left, right, top, bottom = self._sides
        lead = [0] * (x.ndim - 2)
        return call_kernel(self, K.pad_forward, x, [*lead, top, left, *lead, bottom, right])


class SamePad(_KernelLayer):
    """Pad the last ``len(kernel)`` axes so that a window op with ``stride`` gives ``ceil(size / stride)``
    outputs (TensorFlow's and ONNX's auto_pad ``SAME``), with pads computed from each call's input size.

    Args:
        kernel: the window size per padded axis.
        stride: the window stride per padded axis.
        dilation: the window dilation per padded axis. Default: 1.
        upper: put the odd pixel at the end (``SAME_UPPER``, TensorFlow) rather than the beginning.
        value: fill value (0 before a convolution, ``-inf`` before a max pool). Default: 0.0.

    Shape:
        - Input: ``(*, d_1, ..., d_n)``. Output: each ``d_i`` padded to
          ``(ceil(d_i / s_i) - 1) * s_i + (k_i - 1) * dil_i + 1`` (never cropped).

    Examples:
        >>> SamePad([3, 3], [2, 2])(np.zeros((1, 1, 6, 5))).shape
        (1, 1, 7, 5)
    """

    _kernels = (K.pad_forward, K.pad_backward)

    def __init__(self, kernel: Sequence[int], stride: Sequence[int], dilation: Sequence[int] | None = None,
                 upper: bool = True, value: float = 0.0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.kernel, self.stride = [int(k) for k in kernel], [int(s) for s in stride]
        self.dilation = [1] * len(self.kernel) if dilation is None else [int(d) for d in dilation]
        if not len(self.kernel) == len(self.stride) == len(self.dilation):
            raise ValueError(f"SamePad: kernel {self.kernel}, stride {self.stride} and dilation {self.dilation} "
                             "must have one entry per padded axis")
        self.upper = bool(upper)
        self.value = float(value)

    def get_config(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "stride": self.stride, "dilation": self.dilation, "upper": self.upper,
                "value": self.value}

    def pads(self, shape: Sequence[int]) -> list[int]:
        """Begin-then-end pads of every axis of an input of ``shape``."""
        n = len(self.kernel)
        if len(shape) < n:
            raise ValueError(f"{self.describe()}: a {len(shape)}-D input has fewer than {n} axes to pad")
        lead = len(shape) - n
        begin, end = [0] * lead, [0] * lead
        for size, k, s, d in zip(shape[lead:], self.kernel, self.stride, self.dilation):
            total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, large = total // 2, total - total // 2
            begin.append(small if self.upper else large)
            end.append(large if self.upper else small)
        return begin + end

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return call_kernel(self, K.pad_forward, x, self.pads(np.shape(x)), "constant", self.value)
