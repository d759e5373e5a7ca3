"""Crop (Caffe): cut the first input to the reference input's shape, as a Slice with static bounds."""
from __future__ import annotations

import numpy as np

from ....kernels.crop import crop_offsets
from ....nn.layers.crop import Crop
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Crop)
def crop(ctx: ExportContext, layer: Crop, inputs: list[Value], output: np.ndarray, name: str) -> str:
    x, reference = inputs
    axis = layer.axis % x.rank
    if axis == 0:
        raise ValueError("cropping the first (batch) axis cannot be exported: that axis is dynamic")
    starts = crop_offsets(x.shape, reference.shape, layer.axis, layer.offset)[axis:]
    axes = list(range(axis, x.rank))
    ends = [s + reference.shape[d] for s, d in zip(starts, axes)]
    return ctx.one("Slice", [x.name, ctx.ints(f"{name}/starts", starts), ctx.ints(f"{name}/ends", ends),
                             ctx.ints(f"{name}/axes", axes)], name)
