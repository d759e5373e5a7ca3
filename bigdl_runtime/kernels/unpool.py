"""Max unpooling (ONNX MaxUnpool, ``torch.nn.MaxUnpool2d``), a forward/backward pair.

Each value goes to the position its (flat, whole-tensor) index names in the unpooled
tensor, of spatial size ``(in - 1) * stride - pad_begin - pad_end + kernel`` per axis; the
rest is 0. A larger ``output_shape`` pads that result with zeros at the end of each axis.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def max_unpool_forward(x: np.ndarray, indices: np.ndarray, kernel: Sequence[int], strides: Sequence[int],
                       pads: Sequence[int], output_shape: Sequence[int] | None = None) -> tuple[np.ndarray, Any]:
    """Scatter ``x`` (N, C, *spatial) to ``indices`` in the unpooled tensor; ``backward`` returns ``(dx, None)``."""
    k = len(kernel)
    unpooled = (*x.shape[:2], *[(x.shape[2 + d] - 1) * strides[d] - pads[d] - pads[k + d] + kernel[d]
                               for d in range(k)])
    flat = np.asarray(indices).reshape(-1).astype(np.int64)
    size = int(np.prod(unpooled))
    if flat.size != x.size or (flat.size and (flat.min() < 0 or flat.max() >= size)):
        raise ValueError(f"max_unpool: indices must give one position in [0, {size}) per input element")
    y = np.zeros(size, x.dtype)
    y[flat] = x.reshape(-1)
    y = y.reshape(unpooled)
    if output_shape is not None and tuple(output_shape) != unpooled:
        if any(o < u for o, u in zip(output_shape, unpooled)) or len(output_shape) != len(unpooled):
            raise ValueError(f"max_unpool: output_shape {list(output_shape)} is smaller than {list(unpooled)}")
        padded = np.zeros(tuple(output_shape), x.dtype)
        padded[tuple(slice(0, u) for u in unpooled)] = y
        y = padded
    return y, (flat, unpooled, x.shape)


def max_unpool_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, None]:
    flat, unpooled, shape = cache
    inner = dy[tuple(slice(0, u) for u in unpooled)].reshape(-1)
    return inner[flat].reshape(shape), None
