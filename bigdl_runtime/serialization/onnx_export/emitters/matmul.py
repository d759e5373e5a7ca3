"""Batched MatMul and Einsum of two or more inputs."""
from __future__ import annotations

import numpy as np

from ....nn.layers.matmul import Einsum, MatMul
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(MatMul)
def matmul(ctx: ExportContext, layer: MatMul, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("MatMul", [v.name for v in inputs], name)


@emits(Einsum)
def einsum(ctx: ExportContext, layer: Einsum, inputs: list[Value], output: np.ndarray, name: str) -> str:
    return ctx.one("Einsum", [v.name for v in inputs], name, equation=layer.equation)
