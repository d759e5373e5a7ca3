"""Pad (constant / reflect / edge, negative pads crop), ZeroPad2d and SamePad as ONNX Pad."""
from __future__ import annotations

import numpy as np

from ....nn.layers.pad import Pad, SamePad, ZeroPad2d
from ..context import ExportContext, Value
from ..dispatch import emits


@emits(Pad)
def pad(ctx: ExportContext, layer: Pad, inputs: list[Value], output: np.ndarray, name: str) -> str:
    """Fixed pads as an initializer, computed pads (a second input) as they are; ``axes`` as Pad's axes input."""
    pads = ctx.ints(f"{name}/pads", layer.pads) if layer.pads is not None else inputs[1].name
    args = [inputs[0].name, pads]
    if layer.mode == "constant":
        args.append(ctx.scalar(f"{name}.value", layer.value))
    if layer.axes is not None:
        args += [""] * (3 - len(args)) + [ctx.ints(f"{name}/axes", layer.axes)]
    return ctx.one("Pad", args, name, mode=layer.mode)


@emits(ZeroPad2d)
def zero_pad(ctx: ExportContext, layer: ZeroPad2d, inputs: list[Value], output: np.ndarray, name: str) -> str:
    left, right, top, bottom = layer._sides
    lead = [0] * (inputs[0].rank - 2)
    pads = ctx.ints(f"{name}/pads", [*lead, top, left, *lead, bottom, right])
    return ctx.one("Pad", [inputs[0].name, pads], name, mode="constant")


@emits(SamePad)
def same_pad(ctx: ExportContext, layer: SamePad, inputs: list[Value], output: np.ndarray, name: str) -> str:
    """The pads of the traced input's shape: static, as only the batch axis is dynamic and it is never padded."""
    pads = ctx.ints(f"{name}/pads", layer.pads(inputs[0].shape))
    return ctx.one("Pad", [inputs[0].name, pads, ctx.scalar(f"{name}.value", layer.value)], name, mode="constant")
