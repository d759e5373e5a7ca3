"""Dropout: the identity at inference, kept as an Identity node so the layer's name survives."""
from __future__ import annotations

import numpy as np

from ....nn.layers.dropout import Dropout
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Dropout)
def dropout(ctx: ExportContext, layer: Dropout, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Identity", [inputs[0].name], name)
