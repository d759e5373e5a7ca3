"""Layers that carry tensors and shapes through a graph: TensorSource, ShapeOf, ReshapeTo.

They let an imported graph hold its constants as (trainable) parameters and compute
shapes at run time (an ONNX model exported with a dynamic batch axis computes the
target shape of a Reshape from the input's shape).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..module import Module, Parameter


class TensorSource(Module):
    """Outputs a stored tensor; its input only places it in a graph and is ignored.

    A floating-point tensor is a :class:`Parameter` (``value``; trainable unless
    ``trainable=False``), so an imported model's weights that feed arithmetic
    directly (``x * scale + shift``) are learned like any layer's weights; any
    other dtype (shapes, indices) is a buffer.

    Args:
        shape: the tensor's shape.
        dtype: numpy dtype name (``"float32"``, ``"int64"``, ``"bool"``, ...).
        trainable: whether a floating-point value is updated by training.
        name: optional layer name.

    Shape:
        - Input: anything (typically the graph's first input).
        - Output: the stored tensor, ``shape``; ``backward`` gives no gradient to the input.

    Examples:
        >>> src = TensorSource([3], "float32")
        >>> src.value.data[...] = [1, 2, 3]
        >>> src(np.zeros((8, 5))).tolist()
        [1.0, 2.0, 3.0]
    """

    def __init__(self, shape: Sequence[int], dtype: str = "float32", trainable: bool = True,
                 name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = [int(s) for s in shape]
        self.dtype = np.dtype(dtype).name
        self.trainable = bool(trainable)
        zeros = np.zeros(self.shape, dtype=self.dtype)
        if np.issubdtype(zeros.dtype, np.floating):
            self.value = Parameter(zeros, trainable=self.trainable)
        else:
            self.register_buffer("value", zeros)

    @classmethod
    def of(cls, array: np.ndarray, trainable: bool = True, name: str | None = None) -> "TensorSource":
        """A source holding a copy of ``array``."""
        array = np.asarray(array)
        src = cls(array.shape, array.dtype.name, trainable, name)
        target = src.value.data if isinstance(src.value, Parameter) else src.value
        target[...] = array
        return src

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape, "dtype": self.dtype, "trainable": self.trainable}

    def _array(self) -> np.ndarray:
        return self.value.data if isinstance(self.value, Parameter) else self.value

    def forward_pass(self, *inputs: Any) -> tuple[np.ndarray, None]:
        return self._array(), None

    def backward_pass(self, grad_output: np.ndarray, ctx: None) -> None:
        if isinstance(self.value, Parameter):
            self.value.grad += np.asarray(grad_output, dtype=self.value.grad.dtype).reshape(self.value.shape)
        return None


class ShapeOf(Module):
    """The input's shape as an int64 vector, optionally a slice of it (ONNX Shape with start/end).

    Args:
        start: first axis reported (negative counts from the end). Default: 0.
        end: one past the last axis reported; None = to the end.
        name: optional layer name.

    Examples:
        >>> ShapeOf(start=1)(np.zeros((2, 3, 4))).tolist()
        [3, 4]
    """

    def __init__(self, start: int = 0, end: int | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.start = int(start)
        self.end = None if end is None else int(end)

    def get_config(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, None]:
        return np.array(np.shape(x)[self.start:self.end], dtype=np.int64), None

    def backward_pass(self, grad_output: np.ndarray, ctx: None) -> None:
        return None


def onnx_target_shape(in_shape: tuple[int, ...], shape: Sequence[int], allowzero: bool = False) -> list[int]:
    """Resolve an ONNX Reshape target: 0 copies the input's dimension (unless ``allowzero``), -1 is inferred.

    Raises:
        ValueError: several -1, a 0 copying a missing axis, or a size mismatch.
    """
    out = [int(s) for s in shape]
    if not allowzero:
        for i, s in enumerate(out):
            if s == 0:
                if i >= len(in_shape):
                    raise ValueError(f"target shape {list(shape)} copies axis {i} (0) of a {len(in_shape)}-D input")
                out[i] = in_shape[i]
    if out.count(-1) > 1 or any(s < -1 for s in out):
        raise ValueError(f"invalid target shape {list(shape)}: at most one -1 and no other negative sizes")
    total = int(np.prod(in_shape, dtype=np.int64))
    if -1 in out:
        known = int(np.prod([s for s in out if s != -1], dtype=np.int64))
        if known == 0 or total % known:
            raise ValueError(f"cannot reshape {tuple(in_shape)} ({total} elements) to {list(shape)}")
        out[out.index(-1)] = total // known
    if int(np.prod(out, dtype=np.int64)) != total:
        raise ValueError(f"cannot reshape {tuple(in_shape)} ({total} elements) to {list(shape)}")
    return out


class ReshapeTo(Module):
    """Reshape the whole tensor, batch axis included, with ONNX Reshape rules.

    The target is ``shape`` or, when ``shape`` is None, a second input (an int
    vector computed in the graph). 0 copies the input's dimension at that position
    (unless ``allowzero``) and one -1 is inferred.

    Args:
        shape: the target shape, or None to read it from the second input.
        allowzero: a 0 in the target means an empty axis, not "copy". Default: False.
        name: optional layer name.

    Examples:
        >>> ReshapeTo([0, -1])(np.zeros((2, 3, 4))).shape
        (2, 12)
        >>> ReshapeTo()(np.zeros((2, 3, 4)), np.array([4, 6])).shape
        (4, 6)
    """

    def __init__(self, shape: Sequence[int] | None = None, allowzero: bool = False, name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = None if shape is None else [int(s) for s in shape]
        self.allowzero = bool(allowzero)

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape, "allowzero": self.allowzero}

    def forward_pass(self, x: np.ndarray, shape: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
        x = np.asarray(x)
        if (shape is None) == (self.shape is None):
            raise ValueError(f"{self.describe()}: the target shape must come from the config or the second "
                             "input, exactly one of them")
        target = self.shape if shape is None else np.asarray(shape).astype(np.int64).tolist()
        try:
            out = onnx_target_shape(x.shape, target, self.allowzero)
        except ValueError as err:
            raise ValueError(f"{self.describe()}: {err}") from None
        return x.reshape(out), (x.shape, shape is not None)

    def infer(self, x: np.ndarray, shape: np.ndarray | None = None) -> np.ndarray:
        """A target without 0 (where ONNX copies an axis and numpy would not) is numpy's own reshape, -1
        included; anything numpy refuses goes through the forward, which names the layer."""
        if type(x) is np.ndarray and (shape is None) != (self.shape is None):
            target = self.shape if shape is None else shape
            if type(target) is np.ndarray and target.ndim == 1 and target.dtype.kind in "iu":
                target = target.tolist()
            if isinstance(target, list) and 0 not in target:
                try:
                    return x.reshape(target)
                except (ValueError, TypeError):
                    pass
        return self.forward_pass(x, shape)[0]

    def backward_pass(self, grad_output: np.ndarray, ctx: tuple[tuple[int, ...], bool]) -> Any:
        in_shape, two_inputs = ctx
        dx = np.asarray(grad_output).reshape(in_shape)
        return (dx, None) if two_inputs else dx
