"""Signal processing: DFT (axis an attribute up to opset 19, an input from 20) and STFT (frames, window, DFT)."""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn

from ..context import OnnxNode
from ..registry import ONNX


def _scalar(node: OnnxNode, i: int, what: str) -> int | None:
    value = node.const(i, what)
    return None if value is None or np.size(value) == 0 else int(np.asarray(value).reshape(-1)[0])


def _dft(node: OnnxNode, axis: int):
    layer = nn.DFT(axis, _scalar(node, 1, "dft_length"), bool(node.attr("inverse", 0)), bool(node.attr("onesided", 0)))
    return node.apply(layer, [node.value(0)])


@ONNX.register("DFT", since=17)
def dft_17(node: OnnxNode):
    return _dft(node, int(node.attr("axis", 1)))


@ONNX.register("DFT", since=20)
def dft(node: OnnxNode):
    axis = _scalar(node, 2, "axis")
    return _dft(node, -2 if axis is None else axis)


@ONNX.register("STFT", since=17)
def stft(node: OnnxNode):
    """Frames of the (static-length) signal gathered with constant indices, windowed, then a DFT per frame."""
    shape = node.shape(0)
    if shape is None or len(shape) != 3 or shape[1] is None:
        raise node.error(f"needs a signal of static length, shape (batch, length, parts); got {shape}")
    step = _scalar(node, 1, "frame_step")
    window = node.const(2, "window")
    length = _scalar(node, 3, "frame_length")
    length = length if length is not None else (shape[1] if window is None else np.size(window))
    frames = 1 + (shape[1] - length) // step
    starts = np.arange(frames)[:, None] * step + np.arange(length)[None, :]
    framed = node.apply(nn.Gather(1), [node.value(0), starts], suffix="/frames")  # (batch, frames, length, parts)
    if window is not None:
        framed = node.apply(nn.Mul(), [framed, np.asarray(window).reshape(length, 1)], suffix="/window")
    return node.apply(nn.DFT(2, length, onesided=bool(node.attr("onesided", 1))), [framed])
