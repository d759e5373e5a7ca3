"""Caffe weight blobs: BlobProto -> numpy, and the caffemodel's blobs matched to prototxt layers by name."""
from __future__ import annotations

import difflib
import math
from typing import Sequence

import numpy as np

from . import caffe_subset_pb2 as pb
from .files import CaffeImportError


def blob_shape(blob: pb.BlobProto) -> tuple[int, ...]:
    """The blob's shape: ``shape.dim``, or the legacy ``(num, channels, height, width)``."""
    if blob.HasField("shape"):
        return tuple(int(d) for d in blob.shape.dim)
    return (blob.num, blob.channels, blob.height, blob.width)


def blob_array(blob: pb.BlobProto, what: str) -> np.ndarray:
    """The blob's values (float32) in its stored shape; CaffeImportError if their count does not fit it."""
    shape = blob_shape(blob)
    values = np.asarray(blob.data if len(blob.data) else blob.double_data, dtype=np.float32)
    if values.size != math.prod(shape):
        raise CaffeImportError(f"{what}: the caffemodel stores {values.size} values for the shape {shape}")
    return values.reshape(shape)


def _fits(stored: tuple[int, ...], legacy: bool, expected: tuple[int, ...]) -> bool:
    """Caffe's rule: a current-format blob must match exactly; a legacy 4-D one matches the expected
    shape padded on the left with ones."""
    if not legacy:
        return stored == expected
    return len(expected) <= 4 and stored == (1,) * (4 - len(expected)) + expected


class Weights:
    """The blobs of a caffemodel by layer name, handed out with Caffe's shape checks.

    Args:
        layers: the caffemodel's layers (current format).
        where: the caffemodel's path, for messages.
    """

    def __init__(self, layers: Sequence[pb.LayerParameter], where: str) -> None:
        self.where = where
        self._layers = {layer.name: layer for layer in layers if layer.blobs}

    def blobs(self, layer: str, layer_type: str, expected: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """The blobs of ``layer`` reshaped to the ``expected`` Caffe shapes (one per blob, in order).

        Raises:
            CaffeImportError: the caffemodel has no blobs for ``layer``, a different number of
                them, or a blob of another shape (the message names the layer and both shapes).
        """
        stored = self._layers.get(layer)
        if stored is None:
            close = difflib.get_close_matches(layer, list(self._layers), n=3, cutoff=0.6)
            hint = f"; close names there: {close}" if close else ""
            raise CaffeImportError(f"{self.where}: the caffemodel does not match the prototxt: it has no weights "
                                   f"for the {layer_type} layer '{layer}'{hint}")
        if len(stored.blobs) != len(expected):
            raise CaffeImportError(f"{self.where}: the caffemodel does not match the prototxt: the {layer_type} "
                                   f"layer '{layer}' has {len(stored.blobs)} blobs in the caffemodel, the "
                                   f"prototxt needs {len(expected)}")
        arrays = []
        for i, (blob, want) in enumerate(zip(stored.blobs, expected)):
            want = tuple(int(d) for d in want)
            shape = blob_shape(blob)
            if not _fits(shape, not blob.HasField("shape"), want):
                raise CaffeImportError(f"{self.where}: blob shape mismatch in the {layer_type} layer '{layer}': "
                                       f"blob {i} is {shape} in the caffemodel, the prototxt needs {want}")
            arrays.append(blob_array(blob, f"blob {i} of layer '{layer}'").reshape(want))
        return arrays
