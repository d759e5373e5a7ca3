"""Round-trip cases for the layers the ONNX importer adds (graph values, recurrent sequence)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn.layers.graph_values import ReshapeTo, ShapeOf, TensorSource
from bigdl_runtime.nn.layers.pad import SamePad
from bigdl_runtime.nn.layers.reduce import TopKOf
from bigdl_runtime.nn.layers.resize import UpsampleTo
from bigdl_runtime.nn.layers.shape import Chunk, SplitBy
from bigdl_runtime.nn.layers.rnn_sequence import RecurrentLengths, RecurrentSequence


CASES: dict[str, tuple] = {
    "TensorSource": (lambda: TensorSource([2, 3], "float32"), [(4, 5)]),
    "ShapeOf": (lambda: ShapeOf(start=1), [(2, 3, 4)]),
    "ReshapeTo": (lambda: ReshapeTo([0, -1]), [(2, 3, 4)]),
    "SamePad": (lambda: SamePad([3, 2], [2, 2], upper=False, value=-1.0), [(1, 2, 7, 6)]),
    "Chunk": (lambda: Chunk(3, dim=-1), [(2, 7)]),
    "SplitBy": (lambda: SplitBy(dim=1), [(2, 7), (2,)],
                lambda rng, shape: np.array([5, 2]) if shape == (2,) else rng.standard_normal(shape)),
    "UpsampleTo": (lambda: UpsampleTo("bilinear", align_corners=True), [(1, 2, 3, 4), (2,)],
                   lambda rng, shape: np.array([5, 7]) if shape == (2,) else rng.standard_normal(shape)),
    "TopKOf": (lambda: TopKOf(dim=1, largest=False), [(2, 5), ()],
               lambda rng, shape: np.array(3) if shape == () else rng.standard_normal(shape)),
    "RecurrentLengths": (lambda: RecurrentLengths(RecurrentSequence("lstm", 3, 4, direction="bidirectional",
                                                                    batch_first=True)), [(3, 5, 3), (3,)],
                         lambda rng, shape: np.array([5, 2, 0]) if shape == (3,) else rng.standard_normal(shape)),
    "RecurrentSequence": (lambda: RecurrentSequence("lstm", 3, 4, direction="bidirectional"), [(5, 2, 3)]),
}
