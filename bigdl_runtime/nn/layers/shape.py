"""Shape layers: Concat, Split, Reshape, Flatten, Transpose.

They wrap :mod:`bigdl_runtime.kernels.shape`; a kernel's complaint about the
input's shape is re-raised as a ValueError naming the layer.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ...kernels import shape as K
from ..kernel_layer import _KernelLayer, _MultiInputLayer, call_kernel


class Concat(_MultiInputLayer):
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
    _kernels = (K.concat_forward, K.concat_backward)
    _kernel_keywords = {"axis": "dim"}

    def __init__(self, dim: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dim = int(dim)

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def infer(self, *inputs: Any) -> np.ndarray:
        """``np.concatenate`` alone (no backward cache); inputs it refuses get the forward's error."""
        xs = inputs[0] if len(inputs) == 1 and isinstance(inputs[0], (tuple, list)) else inputs
        if xs and all(type(x) is np.ndarray and x.ndim == xs[0].ndim for x in xs) and -xs[0].ndim <= self.dim < xs[0].ndim:
            try:
                return np.concatenate(xs, axis=self.dim)
            except ValueError:
                pass
        return self.forward_pass(*inputs)[0]


class Split(_KernelLayer):
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

    _kernels = (K.split_forward, K.split_backward)

    def __init__(self, split_size_or_sections: int | Sequence[int], dim: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        if isinstance(split_size_or_sections, (int, np.integer)):
            if split_size_or_sections < 1:
                raise ValueError(f"Split: split size must be positive, got {split_size_or_sections}")
            self.split_size_or_sections: int | list[int] = int(split_size_or_sections)
        else:
            self.split_size_or_sections = [int(s) for s in split_size_or_sections]
        self.dim = int(dim)

    def get_config(self) -> dict[str, Any]:
        return {"split_size_or_sections": self.split_size_or_sections, "dim": self.dim}

    def _sections(self, x: np.ndarray) -> list[int]:
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self.describe()}: dim {self.dim} is out of range for a {x.ndim}-D input {x.shape}")
        if isinstance(self.split_size_or_sections, list):
            return self.split_size_or_sections
        length, size = x.shape[self.dim], self.split_size_or_sections
        return [size] * (length // size) + ([length % size] if length % size else [])

    def forward_pass(self, x: np.ndarray) -> tuple[tuple[np.ndarray, ...], Any]:
        return call_kernel(self, K.split_forward, x, self._sections(x), axis=self.dim)

    def infer(self, x: np.ndarray) -> tuple[np.ndarray, ...]:
        """The forward's parts as basic-indexing views (no backward cache; a bad split raises as the forward)."""
        sizes = self._sections(x)
        parts = K.split_views(x, sizes, self.dim)
        return parts if parts is not None else self.forward_pass(x)[0]


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

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def forward_pass(self, x: np.ndarray, sizes: np.ndarray) -> tuple[tuple[np.ndarray, ...], Any]:
        sizes = np.asarray(sizes).reshape(-1)
        if not np.issubdtype(sizes.dtype, np.integer) or (sizes < 0).any():
            raise ValueError(f"{self.describe()}: the sizes must be non-negative integers, got {sizes.tolist()}")
        return call_kernel(self, K.split_forward, x, [int(v) for v in sizes], axis=self.dim)

    def infer(self, x: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, ...]:  # type: ignore[override]
        return self.forward_pass(x, sizes)[0]

    def backward_pass(self, grad_output: Sequence[np.ndarray | None], ctx: Any) -> tuple[np.ndarray, None]:
        return super().backward_pass(grad_output, ctx), None


class Reshape(_KernelLayer):
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
    _kernels = (K.reshape_forward, K.reshape_backward)

    def __init__(self, shape: Sequence[int], name: str | None = None) -> None:
        super().__init__(name=name)
        self.shape = [int(s) for s in shape]

    def get_config(self) -> dict[str, Any]:
        return {"shape": self.shape}

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        if x.ndim < 1:
            raise ValueError(f"{self.describe()}: expected a batch (N, *), got a scalar")
        return call_kernel(self, K.reshape_forward, x, [x.shape[0], *self.shape])


class Flatten(_KernelLayer):
    """Flatten to 2-D as ONNX Flatten: ``(prod(shape[:start_dim]), prod(shape[start_dim:]))``.

    For the usual ``start_dim=1`` this is ``(N, C*H*W)``, as ``torch.nn.Flatten()``;
    for larger ``start_dim`` the leading dimensions are merged too (ONNX), not kept.

    Args:
        start_dim: first flattened axis, batch included. Default: 1.

    Examples:
        >>> Flatten()(np.zeros((2, 3, 4, 4))).shape
        (2, 48)
    """

    _kernels = (K.flatten_forward, K.flatten_backward)
    _kernel_keywords = {"start_dim": "start_dim"}

    def __init__(self, start_dim: int = 1, name: str | None = None) -> None:
        super().__init__(name=name)
        self.start_dim = int(start_dim)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The forward's reshape alone, for an array with values and a non-negative ``start_dim`` in range."""
        if type(x) is np.ndarray and 0 <= self.start_dim <= x.ndim and x.size:
            return x.reshape(math.prod(x.shape[:self.start_dim]), -1)
        return self.forward_pass(x)[0]

    def get_config(self) -> dict[str, Any]:
        return {"start_dim": self.start_dim}


class Transpose(_KernelLayer):
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
    _kernels = (K.transpose_forward, K.transpose_backward)
    _kernel_keywords = {"perm": "dims"}

    def __init__(self, dims: Sequence[int] | None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.dims = None if dims is None else [int(d) for d in dims]

    def infer(self, x: np.ndarray) -> np.ndarray:
        """The forward's view alone (without the inverse permutation it keeps for the backward); numpy refuses a
        repeated or out-of-range axis, which then gets the forward's error."""
        dims = self.dims
        if type(x) is np.ndarray and (dims is None or (len(dims) == x.ndim and min(dims, default=0) >= 0)):
            try:
                return x.transpose(dims)
            except ValueError:
                pass
        return self.forward_pass(x)[0]

    def get_config(self) -> dict[str, Any]:
        return {"dims": self.dims}
