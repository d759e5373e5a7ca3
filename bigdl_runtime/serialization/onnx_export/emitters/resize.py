"""Upsample as ONNX Resize on the spatial axes only (``axes=[2, 3]``, opset 18), so the batch stays dynamic.

nearest: ``asymmetric`` coordinates with ``floor`` rounding; bilinear: ``half_pixel``
or ``align_corners``. A ``scale_factor`` is written as Resize ``scales`` (output
``floor(in * scale)`` and source coordinates ``dst / scale``, as our kernel), a
``size`` as Resize ``sizes``, a size computed in the graph (UpsampleTo) as the last two
entries of that value.
"""
from __future__ import annotations

import numpy as np

from ....nn.layers.resize import Upsample, UpsampleTo
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Upsample, UpsampleTo)
def upsample(ctx: ExportContext, layer: Upsample, inputs: list[Value], output: np.ndarray, name: str) -> str:
    if ctx.opset < 18:
        raise ValueError("Upsample needs opset 18 or newer (Resize with axes keeps the batch dynamic)")
    if isinstance(layer, UpsampleTo):  # the computed size's last two entries are (H, W)
        hw = ctx.one("Slice", [inputs[1].name, ctx.ints(f"{name}/hw_start", [-2]),
                               ctx.ints(f"{name}/hw_end", [2**62])], f"{name}/hw")
        args = [inputs[0].name, "", "", hw]
    elif layer.size is not None:
        size = [layer.size] * 2 if isinstance(layer.size, int) else layer.size
        args = [inputs[0].name, "", "", ctx.ints(f"{name}/sizes", size)]
    else:
        scale = [layer.scale_factor] * 2 if isinstance(layer.scale_factor, float) else layer.scale_factor
        args = [inputs[0].name, "", ctx.weight(f"{name}/scales", np.asarray(scale, np.float32), dtype=np.float32)]
    if layer.mode == "nearest":
        modes = dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    else:
        modes = dict(mode="linear",
                     coordinate_transformation_mode="align_corners" if layer.align_corners else "half_pixel")
    return ctx.one("Resize", args, name, axes=[2, 3], **modes)
