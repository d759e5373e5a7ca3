"""InstanceNorm (1d/2d/3d) as ONNX InstanceNormalization (scale ones and bias zeros without affine)."""
from __future__ import annotations

import numpy as np

from ....nn.layers.instance_norm import InstanceNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(InstanceNorm, InstanceNorm1d, InstanceNorm2d, InstanceNorm3d)
def instance_norm(ctx: ExportContext, layer: InstanceNorm, inputs: list[Value], output: np.ndarray,
                  name: str) -> str:
    n = layer.num_features
    scale = layer.weight.data if layer.weight is not None else np.ones(n)
    bias = layer.bias.data if layer.bias is not None else np.zeros(n)
    return ctx.one("InstanceNormalization", [inputs[0].name, ctx.weight(f"{name}.weight", scale),
                                             ctx.weight(f"{name}.bias", bias)], name, epsilon=layer.eps)
