"""Shape layers: Concat, Split, Reshape, Flatten, Transpose.

They wrap :mod:`bigdl_runtime.kernels.shape`; a kernel's complaint about the
input's shape is re-raised as a ValueError naming the layer.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ...kernels import shape as K
from ..module import Module


def call_kernel(layer: Module, fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with any ValueError prefixed by ``layer.describe()``."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        raise ValueError(f"{layer.describe()}: {err}") from None


def as_inputs(inputs: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """The arrays of a multi-input layer: given separately, or as one tuple/list (e.g. from Split)."""
    if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)):
        return tuple(inputs[0])
    return inputs


class Concat(Module):
    """Concatenate the inputs along ``dim``.

    Args:
        dim: the joined axis, batch included (1 = channels for NCHW). Default: 1.

    Shape:
        - Inputs: tensors equal in every dimension but ``dim``, given as separate
          arguments or as one tuple.
        - Output: the same, with ``dim`` the sum of the inputs' sizes.

    Examples:
        >>> y = Concat(dim=1)(np.zeros((2, 3, 4, 4)), np.zeros((2, 5, 4, 4)))  # (2, 8, 4, 4)
    """

    aliases = ("JoinTable",)

    def __init__(self, dim: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = int(dim)
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def forward(self, *inputs: np.ndarray) -> np.ndarray:
        y, self._cache = call_kernel(self, K.concat_forward, *as_inputs(inputs), axis=self.dim)
        return y

    def backward(self, grad_output: np.ndarray) -> tuple[np.ndarray, ...]:
        cache = self._need_cache(self._cache)
        return K.concat_backward(grad_output, cache)


class Split(Module):
    """Cut the input along ``dim`` into chunks (as ``torch.split``); returns a tuple.

    Args:
        split_size_or_sections: an int = the size of every chunk (the last one may
            be smaller), or a list of chunk sizes that add up to the input's ``dim``.
        dim: the cut axis, batch included. Default: 1.

    Shape:
        - Input: ``(N, *)``.
        - Output: a tuple of tensors; ``backward`` takes a tuple of their gradients
          (``None`` for an unused output).

    Examples:
        >>> a, b = Split(2, dim=1)(np.zeros((1, 4, 3)))  # two (1, 2, 3)
    """

    def __init__(self, split_size_or_sections: int | Sequence[int], dim: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections < 1:
                raise ValueError(f"Split: split size must be positive, got {split_size_or_sections}")
            self.split_size_or_sections: int | list[int] = int(split_size_or_sections)
        else:
            self.split_size_or_sections = [int(s) for s in split_size_or_sections]
        self.dim = int(dim)
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"split_size_or_sections": self.split_size_or_sections, "dim": self.dim}

    def _sections(self, x: np.ndarray) -> list[int]:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self.describe()}: dim {self.dim} is out of range for a {x.ndim}-D input {x.shape}")
        if isinstance(self.split_size_or_sections, list):
            return self.split_size_or_sections
        length, size = x.shape[self.dim], self.split_size_or_sections
        return [size] * (length // size) + ([length % size] if length % size else [])

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        parts, self._cache = call_kernel(self, K.split_forward, x, self._sections(x), axis=self.dim)
        return parts

    def backward(self, grad_output: Sequence[np.ndarray | None]) -> np.ndarray:
        cache = self._need_cache(self._cache)
        return K.split_backward(grad_output, cache)[0]


class Chunk(Split):
    """Cut the input along ``dim`` into ``chunks`` parts (as ``torch.chunk`` with exactly ``chunks`` parts).

    Every part has ``ceil(length / chunks)`` entries but the last, which may be smaller (ONNX
    Split with ``num_outputs``, or without sizes); a length that cannot give ``chunks``
    non-empty parts is an error.

    Args:
        chunks: the number of parts.
        dim: the cut axis, batch included. Default: 1.

    Examples:
        >>> [p.shape[1] for p in Chunk(3, dim=1)(np.zeros((1, 7)))]
        [3, 3, 1]
    """

    def __init__(self, chunks: int, dim: int = 1, name: str | None = None) -> None:
        super().__init__(1, dim, name=name)
        if int(chunks) < 1:
            raise ValueError(f"Chunk: the number of chunks must be positive, got {chunks}")
        self.chunks = int(chunks)

    def get_config(self) -> dict[str, Any]:
        return {"chunks": self.chunks, "dim": self.dim}

    def _sections(self, x: np.ndarray) -> list[int]:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self.describe()}: dim {self.dim} is out of range for a {x.ndim}-D input {x.shape}")
        length = x.shape[self.dim]
        size = -(-length // self.chunks)
        sections = [size] * (length // size) + ([length % size] if length % size else []) if size else []
        if len(sections) != self.chunks:
            raise ValueError(f"{self.describe()}: an axis of {length} does not cut into {self.chunks} parts")
        return sections


class SplitBy(Split):
    """Cut the input along ``dim`` into chunks whose sizes come per call as a second input.

    ONNX Split with a computed ``split`` input (``torch.chunk`` of a dynamic axis exports so).

    Args:
        dim: the cut axis, batch included. Default: 1.

    Shape:
        - Inputs: ``x`` and a 1-D integer vector of sizes adding up to ``x.shape[dim]``.
        - Output: a tuple of tensors; ``backward`` takes their gradients and gives the sizes ``None``.

    Examples:
        >>> [p.shape[1] for p in SplitBy(dim=1)(np.zeros((1, 7)), np.array([5, 2]))]
        [5, 2]
    """

    def __init__(self, dim: int = 1, name: str | None = None) -> None:
        super().__init__(1, dim, name=name)
        self._sizes: list[int] = []

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def _sections(self, x: np.ndarray) -> list[int]:
        return self._sizes

    def forward(self, x: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, ...]:
        sizes = np.asarray(sizes).reshape(-1)
        if not np.issubdtype(sizes.dtype, np.integer) or (sizes < 0).any():
            raise ValueError(f"{self.describe()}: the sizes must be non-negative integers, got {sizes.tolist()}")
        self._sizes = [int(v) for v in sizes]
        return super().forward(x)

    def backward(self, grad_output: Sequence[np.ndarray | None]) -> tuple[np.ndarray, None]:
        return super().backward(grad_output), None


class Reshape(Module):
    """Reshape each sample: the batch dimension is kept and ``shape`` excludes it (as Keras and BigDL).

    Args:
        shape: the per-sample shape; one entry may be -1 (inferred) and 0 copies
            the input's dimension at that position (counted after the batch).

    Shape:
        - Input: ``(N, *)``.
        - Output: ``(N, *shape)``.

    Examples:
        >>> Reshape([4, -1])(np.zeros((2, 4, 3, 3))).shape
        (2, 4, 9)
    """

    aliases = ("View",)

    def __init__(self, shape: Sequence[int], name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = [int(s) for s in shape]
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape}

    def forward(self, x: np.ndarray) -> np.ndarray:
        if x.ndim < 1:
            raise ValueError(f"{self.describe()}: expected a batch (N, *), got a scalar")
        y, self._cache = call_kernel(self, K.reshape_forward, x, [x.shape[0], *self.shape])
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        cache = self._need_cache(self._cache)
        return K.reshape_backward(grad_output, cache)[0]


class Flatten(Module):
    """Flatten to 2-D as ONNX Flatten: ``(prod(shape[:start_dim]), prod(shape[start_dim:]))``.

    For the usual ``start_dim=1`` this is ``(N, C*H*W)``, as ``torch.nn.Flatten()``;
    for larger ``start_dim`` the leading dimensions are merged too (ONNX), not kept.

    Args:
        start_dim: first flattened axis, batch included. Default: 1.

    Examples:
        >>> Flatten()(np.zeros((2, 3, 4, 4))).shape
        (2, 48)
    """

    def __init__(self, start_dim: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.start_dim = int(start_dim)
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim}

    def forward(self, x: np.ndarray) -> np.ndarray:
        y, self._cache = call_kernel(self, K.flatten_forward, x, self.start_dim)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        cache = self._need_cache(self._cache)
        return K.flatten_backward(grad_output, cache)[0]


class Transpose(Module):
    """Permute all axes, the batch axis included (as ONNX Transpose and ``Tensor.permute``).

    Args:
        dims: output axis ``i`` is input axis ``dims[i]``; ``dims`` has one entry per input axis.
            None reverses the axes of any input (ONNX's default).

    Shape:
        - Input: ``(d_0, ..., d_{k-1})``.
        - Output: ``(d_{dims[0]}, ..., d_{dims[k-1]})``.

    Examples:
        >>> Transpose([0, 2, 3, 1])(np.zeros((2, 3, 4, 5))).shape  # NCHW -> NHWC
        (2, 4, 5, 3)
    """

    aliases = ("Permute",)

    def __init__(self, dims: Sequence[int] | None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dims = None if dims is None else [int(d) for d in dims]
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        return {"dims": self.dims}

    def forward(self, x: np.ndarray) -> np.ndarray:
        y, self._cache = call_kernel(self, K.transpose_forward, x, self.dims)
        return y

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        cache = self._need_cache(self._cache)
        return K.transpose_backward(grad_output, cache)[0]
