"""Embedding lookup: rows of a weight matrix selected by integer indices."""
from __future__ import annotations

from typing import Any

import numpy as np


def embedding_forward(indices: np.ndarray, weight: np.ndarray, padding_idx: int | None = None) -> tuple[np.ndarray, Any]:
    """Gather ``weight[indices]``.

    Args:
        indices: integer array of any shape, values in ``[0, num_embeddings)``.
        weight: ``(num_embeddings, embedding_dim)``.
        padding_idx: row whose gradient is always zero (its value is used as is).

    Returns:
        ``y`` of shape ``(*indices.shape, embedding_dim)`` and the cache.
    """
    indices = np.asarray(indices)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"embedding: indices must be integers, got dtype {indices.dtype}")
    vocab = weight.shape[0]
    bad = (indices < 0) | (indices >= vocab)
    if bad.any():
        raise ValueError(f"embedding: index {indices[bad].flat[0]} is out of range for a vocabulary of {vocab}")
    return np.take(weight, indices, axis=0), (indices, weight.shape, padding_idx)


def embedding_backward(dy: np.ndarray, cache: Any) -> tuple[None, np.ndarray]:
    """``(None, dweight)``: each row's gradient is the sum of the output gradients that looked it up."""
    indices, weight_shape, padding_idx = cache
    dweight = np.zeros(weight_shape, dtype=dy.dtype)
    np.add.at(dweight, indices.reshape(-1), dy.reshape(-1, weight_shape[1]))
    if padding_idx is not None:
        dweight[padding_idx] = 0
    return None, dweight
