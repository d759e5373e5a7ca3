"""Col2Im (``torch.nn.functional.fold``, ONNX Col2Im): sliding blocks summed back into an image, any number
of spatial axes; a forward/backward pair (the backward is the matching im2col).

The input ``(N, C * prod(block), L)`` holds, for each of the ``L`` block positions (row-major
over the spatial axes), the ``prod(block)`` values of each channel's block (row-major over the
block's axes); overlapping values add up, values falling in the padding are dropped.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def _targets(image: Sequence[int], block: Sequence[int], dilations: Sequence[int], pads: Sequence[int],
             strides: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Flat image index of each (block offset, block position), shape (prod(block), L), and whether it is inside."""
    k = len(image)
    image, block = np.asarray(image), np.asarray(block)
    dilations, strides = np.asarray(dilations), np.asarray(strides)
    begin, end = np.asarray(pads[:k]), np.asarray(pads[k:])
    counts = (image + begin + end - dilations * (block - 1) - 1) // strides + 1
    if (counts < 1).any():
        raise ValueError(f"col2im: no block fits the padded image (blocks per axis {counts.tolist()})")
    offsets = np.indices(block).reshape(k, -1)[:, :, None]
    positions = np.indices(counts).reshape(k, -1)[:, None, :]
    coords = positions * strides[:, None, None] - begin[:, None, None] + offsets * dilations[:, None, None]
    inside = ((coords >= 0) & (coords < image[:, None, None])).all(axis=0)
    clipped = np.clip(coords, 0, (image - 1)[:, None, None])
    return np.ravel_multi_index(tuple(clipped), tuple(image)), inside


def col2im_forward(x: np.ndarray, image_shape: Sequence[int], block_shape: Sequence[int],
                   dilations: Sequence[int] | None = None, pads: Sequence[int] | None = None,
                   strides: Sequence[int] | None = None) -> tuple[np.ndarray, Any]:
    """``(N, C * prod(block), L)`` -> ``(N, C, *image_shape)``; pads are ONNX begin-then-end."""
    k = len(image_shape)
    dilations = [1] * k if dilations is None else list(dilations)
    strides = [1] * k if strides is None else list(strides)
    pads = [0] * 2 * k if pads is None else list(pads)
    flat, inside = _targets(image_shape, block_shape, dilations, pads, strides)
    n, rows, length = x.shape
    per_block = flat.shape[0]
    if rows % per_block or length != flat.shape[1]:
        raise ValueError(f"col2im: input of shape {x.shape} does not hold blocks of {list(block_shape)} at "
                         f"{flat.shape[1]} positions")
    cols = x.reshape(n, rows // per_block, per_block, length)
    out = np.zeros((n, rows // per_block, int(np.prod(image_shape))), x.dtype)
    for offset in range(per_block):  # within one block offset the positions are distinct
        keep = inside[offset]
        out[:, :, flat[offset][keep]] += cols[:, :, offset, keep]
    return out.reshape(n, rows // per_block, *image_shape), (flat, inside, x.shape)


def col2im_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    flat, inside, shape = cache
    n, channels = dy.shape[:2]
    image = dy.reshape(n, channels, -1)
    cols = np.where(inside, image[:, :, flat], 0).astype(dy.dtype, copy=False)  # (N, C, prod(block), L)
    return (cols.reshape(shape),)
