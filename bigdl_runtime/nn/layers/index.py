"""Indexing layers: Gather, Slice, Expand, Tile, Squeeze, Unsqueeze, DepthToSpace/PixelShuffle,
SpaceToDepth/PixelUnshuffle.

They wrap :mod:`bigdl_runtime.kernels.index` with ONNX semantics; axes count the
batch axis (0) and may be negative. Slice, Expand and Tile take their index
arguments either fixed in the constructor or, when left ``None``, as extra integer
inputs computed in the graph (e.g. from ``ShapeOf``); such inputs get a ``None``
gradient, as do Gather's indices.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ...kernels import index as K
from ..kernel_layer import _KernelLayer, _MultiInputLayer, as_inputs, call_kernel, memoized
from ..module import Module


def _ints(values: Sequence[int] | int | None) -> list[int] | None:
    if values is None:
        return None
    if isinstance(values, (int, np.integer)):
        return [int(values)]
    return [int(v) for v in np.asarray(values).reshape(-1)]


class _Indexed(Module):
    """Base of the layers whose index arguments are fixed or come as extra inputs.

    Subclasses set ``_fixed`` (the constructor's index arguments, None if runtime)
    and implement ``_run(x, *index_args)``.
    """

    def _runtime_inputs(self) -> tuple[int, int]:
        """(minimum, maximum) number of index inputs after ``x``; (0, 0) when fixed."""
        raise NotImplementedError

    def _run(self, x: np.ndarray, *args: Any) -> tuple[np.ndarray, Any]:
        raise NotImplementedError

    def forward_pass(self, *inputs: np.ndarray) -> tuple[np.ndarray, tuple[Any, int]]:
        xs = as_inputs(inputs)
        low, high = self._runtime_inputs()
        if not 1 + low <= len(xs) <= 1 + high:
            want = f"{1 + low}" if low == high else f"{1 + low} to {1 + high}"
            raise ValueError(f"{self.describe()}: expected {want} input(s), got {len(xs)}")
        y, cache = call_kernel(self, self._run, *xs)
        return y, (cache, len(xs))

    def _grad(self, grad_output: np.ndarray, cache: Any) -> np.ndarray:
        raise NotImplementedError

    def backward_pass(self, grad_output: np.ndarray,
                      ctx: tuple[Any, int]) -> np.ndarray | tuple[np.ndarray | None, ...]:
        cache, n = ctx
        dx = self._grad(grad_output, cache)
        return dx if n == 1 else (dx,) + (None,) * (n - 1)


class Gather(_MultiInputLayer):
    """``np.take(x, indices, dim)`` (ONNX Gather; ``torch.index_select`` for 1-D indices).

    Args:
        dim: the indexed axis (batch included, may be negative). Default: 0.

    Shape:
        - Inputs: ``x`` and integer ``indices`` of any shape (negative ones count from the end).
        - Output: ``x.shape[:dim] + indices.shape + x.shape[dim + 1:]``.
          ``backward`` returns ``(dx, None)``; repeated indices add up.

    Examples:
        >>> Gather(dim=1)(np.arange(6.0).reshape(2, 3), np.array([2, -3]))
        array([[2., 0.],
               [5., 3.]])
    """

    _kernels = (K.gather_forward, K.gather_backward)
    _kernel_keywords = {"axis": "dim"}
    _arity = 2
    _input_names = "(x, indices)"

    def __init__(self, dim: int = 0, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = int(dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def infer(self, *inputs: Any) -> np.ndarray:
        """Integer indices: one ``np.take``, whose ``raise`` mode is ONNX Gather's (negative indices count from
        the end, others out of range raise: then the forward names the layer and the index)."""
        xs = as_inputs(inputs)
        if len(xs) == 2 and isinstance(xs[0], np.ndarray) and isinstance(xs[1], np.ndarray) \
                and xs[1].dtype.kind in "iu" and -xs[0].ndim <= self.dim < xs[0].ndim:
            try:
                return np.take(xs[0], xs[1], axis=self.dim)
            except IndexError:
                pass
        return self.forward_pass(*inputs)[0]


class Slice(_Indexed):
    """ONNX Slice: ``x[starts[i]:ends[i]:steps[i]]`` along ``axes[i]``, bounds clamped.

    Args:
        starts, ends: first index and end (exclusive) per sliced axis; negative values
            count from the end, values past either end are clamped (use a huge value
            for "to the end"). Both ``None``: they come as inputs (see Shape).
        axes: the sliced axes (batch included, may be negative). Default: the first
            ``len(starts)`` axes.
        steps: strides per sliced axis, non-zero, negative walks backwards. Default: 1.

    Shape:
        - Input: ``x``, plus ``starts, ends[, axes[, steps]]`` integer vectors when not fixed.
        - Output: the slice (a view of ``x``).

    Examples:
        >>> Slice([1], [-1], axes=[1])(np.arange(8.0).reshape(2, 4))
        array([[1., 2.],
               [5., 6.]])
        >>> Slice([-1], [-2**63], steps=[-1])(np.arange(3.0))  # reversed
        array([2., 1., 0.])
    """

    def __init__(self, starts: Sequence[int] | None = None, ends: Sequence[int] | None = None,
                 axes: Sequence[int] | None = None, steps: Sequence[int] | None = None,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        if (starts is None) != (ends is None):
            raise ValueError("Slice: give both starts and ends, or neither (then they are inputs)")
        self.starts, self.ends = _ints(starts), _ints(ends)
        self.axes, self.steps = _ints(axes), _ints(steps)

    def get_config(self) -> dict[str, Any]:
        return {"starts": self.starts, "ends": self.ends, "axes": self.axes, "steps": self.steps}

    def _runtime_inputs(self) -> tuple[int, int]:
        return (0, 0) if self.starts is not None else (2, 4)

    def _run(self, x: np.ndarray, *args: Any) -> tuple[np.ndarray, Any]:
        if self.starts is not None:
            return K.slice_forward(x, self.starts, self.ends, self.axes, self.steps)
        starts, ends, axes, steps = [*args, None, None][:4]
        return K.slice_forward(x, starts, ends, self.axes if axes is None else axes,
                               self.steps if steps is None else steps)

    def _grad(self, grad_output: np.ndarray, cache: Any) -> np.ndarray:
        return K.slice_backward(grad_output, cache)[0]

    def infer(self, *inputs: Any) -> np.ndarray:
        """With fixed bounds, the index tuple is worked out once per input shape."""
        if self.starts is None or len(inputs) != 1:
            return self.forward_pass(*inputs)[0]
        x = np.asarray(inputs[0])
        return x[memoized(self, x.shape, lambda: call_kernel(self, self._run, x)[1][0])]


class Expand(_Indexed):
    """Broadcast the input against ``shape`` (ONNX Expand; the output has the broadcast of both shapes).

    Unlike ``torch.Tensor.expand`` the result is a new array (not a view) and
    ``shape`` may be smaller than the input's (``[1]`` leaves it unchanged).

    Args:
        shape: the target shape (batch included), or None to take it as a second input.

    Examples:
        >>> Expand([2, 3])(np.array([[1.0], [2.0]]))
        array([[1., 1., 1.],
               [2., 2., 2.]])
    """

    def __init__(self, shape: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = _ints(shape)

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape}

    def _runtime_inputs(self) -> tuple[int, int]:
        return (0, 0) if self.shape is not None else (1, 1)

    def _run(self, x: np.ndarray, *args: Any) -> tuple[np.ndarray, Any]:
        return K.expand_forward(x, self.shape if self.shape is not None else args[0])

    def infer(self, *inputs: Any) -> np.ndarray:
        """The broadcast copy alone, its shape worked out (and the inputs checked, by the forward) once per input
        shape and target."""
        xs = as_inputs(inputs)
        if len(xs) != (1 if self.shape is not None else 2) or type(xs[0]) is not np.ndarray:
            return self.forward_pass(*inputs)[0]
        x = xs[0]
        target = np.asarray(xs[1]) if len(xs) == 2 else None
        key = (x.shape, x.dtype) if target is None else (x.shape, x.dtype, target.dtype.str,
                                                         tuple(target.reshape(-1).tolist()))
        shape = memoized(self, key, lambda: self.forward_pass(*inputs)[0].shape)
        y = np.empty(shape, x.dtype)
        np.copyto(y, x)
        return y

    def _grad(self, grad_output: np.ndarray, cache: Any) -> np.ndarray:
        return K.expand_backward(grad_output, cache)[0]


class Tile(_Indexed):
    """Repeat the input ``repeats[i]`` times along every axis ``i`` (ONNX Tile, ``torch.tile``).

    Args:
        repeats: one count per input axis (batch included), or None to take them as a second input.

    Examples:
        >>> Tile([1, 2])(np.array([[1.0, 2.0]]))
        array([[1., 2., 1., 2.]])
    """

    def __init__(self, repeats: Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.repeats = _ints(repeats)

    def get_config(self) -> dict[str, Any]:
        return {"repeats": self.repeats}

    def _runtime_inputs(self) -> tuple[int, int]:
        return (0, 0) if self.repeats is not None else (1, 1)

    def _run(self, x: np.ndarray, *args: Any) -> tuple[np.ndarray, Any]:
        return K.tile_forward(x, self.repeats if self.repeats is not None else args[0])

    def _grad(self, grad_output: np.ndarray, cache: Any) -> np.ndarray:
        return K.tile_backward(grad_output, cache)[0]


class Squeeze(_KernelLayer):
    """Remove size-1 axes (``torch.squeeze``, ONNX Squeeze).

    Args:
        dim: an axis or list of axes (batch included, may be negative), each of which
            must have size 1 (an error otherwise, as ONNX; torch would skip it);
            None (default) removes every size-1 axis.

    Examples:
        >>> Squeeze(dim=[2, 3])(np.zeros((8, 16, 1, 1))).shape
        (8, 16)
    """

    _kernels = (K.squeeze_forward, K.squeeze_backward)
    _kernel_keywords = {"axes": "dim"}

    def __init__(self, dim: int | Sequence[int] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = _ints(dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def infer(self, x: np.ndarray) -> np.ndarray:
        """A reshape to the output shape, worked out once per input shape."""
        x = np.asarray(x)
        return x.reshape(memoized(self, x.shape, lambda: self.forward_pass(x)[0].shape))


class Unsqueeze(_KernelLayer):
    """Insert size-1 axes (``torch.unsqueeze``, ONNX Unsqueeze).

    Args:
        dim: an axis or list of axes, positions in the *output* (may be negative).

    Examples:
        >>> Unsqueeze(dim=[0, -1])(np.zeros(3)).shape
        (1, 3, 1)
    """

    _kernels = (K.unsqueeze_forward, K.unsqueeze_backward)
    _kernel_keywords = {"axes": "dim"}

    def __init__(self, dim: int | Sequence[int], name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = _ints(dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def infer(self, x: np.ndarray) -> np.ndarray:
        """A reshape to the output shape, worked out once per input shape."""
        x = np.asarray(x)
        return x.reshape(memoized(self, x.shape, lambda: self.forward_pass(x)[0].shape))


class _BlockRearrange(_KernelLayer):
    """Shared body of DepthToSpace and SpaceToDepth: a block size, a mode and one kernel pair."""

    _kernel_keywords = {"blocksize": "block_size", "mode": "mode"}

    def __init__(self, block_size: int, mode: str = "DCR", name: str | None = None) -> None:
        super().__init__(name=name)
        if mode not in ("DCR", "CRD"):
            raise ValueError(f"{type(self).__name__}: mode must be 'DCR' or 'CRD', got {mode!r}")
        self.block_size = int(block_size)
        self.mode = mode

    def get_config(self) -> dict[str, Any]:
        return {"block_size": self.block_size, "mode": self.mode}


class DepthToSpace(_BlockRearrange):
    """Move channel blocks into spatial blocks: ``(N, C, H, W) -> (N, C/b^2, H*b, W*b)`` (ONNX DepthToSpace).

    Args:
        block_size: the block edge ``b``.
        mode: ``"DCR"`` (ONNX default: block position from the outer channel index)
            or ``"CRD"`` (from the inner one, as ``torch.nn.PixelShuffle``).

    Examples:
        >>> DepthToSpace(2)(np.zeros((1, 8, 3, 3))).shape
        (1, 2, 6, 6)
    """

    _kernels = (K.depth_to_space_forward, K.depth_to_space_backward)


class PixelShuffle(DepthToSpace):
    """``torch.nn.PixelShuffle``: ``DepthToSpace(upscale_factor, mode="CRD")``.

    Args:
        upscale_factor: the block edge.
    """

    def __init__(self, upscale_factor: int, name: str | None = None) -> None:
        super().__init__(upscale_factor, "CRD", name=name)

    def get_config(self) -> dict[str, Any]:
        return {"upscale_factor": self.block_size}


class SpaceToDepth(_BlockRearrange):
    """Move spatial blocks into channels: ``(N, C, H, W) -> (N, C*b^2, H/b, W/b)`` (ONNX SpaceToDepth).

    The inverse of ``DepthToSpace(b, mode)``.

    Args:
        block_size: the block edge ``b``; ``H`` and ``W`` must be multiples of it.
        mode: ``"DCR"`` (ONNX default) or ``"CRD"`` (ONNX opset 28, ``torch.nn.PixelUnshuffle``).

    Examples:
        >>> SpaceToDepth(2)(np.zeros((1, 3, 4, 6))).shape
        (1, 12, 2, 3)
    """

    _kernels = (K.space_to_depth_forward, K.space_to_depth_backward)


class PixelUnshuffle(SpaceToDepth):
    """``torch.nn.PixelUnshuffle``: ``SpaceToDepth(downscale_factor, mode="CRD")``.

    Args:
        downscale_factor: the block edge.
    """

    def __init__(self, downscale_factor: int, name: str | None = None) -> None:
        super().__init__(downscale_factor, "CRD", name=name)

    def get_config(self) -> dict[str, Any]:
        return {"downscale_factor": self.block_size}
