"""Embedding as Gather of the table's rows (int64 indices)."""
from __future__ import annotations

import numpy as np

from ....nn.layers.embedding import Embedding
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Embedding)
def embedding(ctx: ExportContext, layer: Embedding, inputs: list[Value], output: np.ndarray, name: str) -> str:
    indices = inputs[0].name
    if np.asarray(inputs[0].sample).dtype != np.int64:
        indices = ctx.one("Cast", [indices], f"{name}/indices", to=7)  # TensorProto.INT64
    return ctx.one("Gather", [ctx.weight(f"{name}.weight", layer.weight.data), indices], name, axis=0)
