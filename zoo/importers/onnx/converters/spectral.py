"""Signal processing: DFT (axis an attribute up to opset 19, an input from 20), STFT (frames, window, DFT) and
MelWeightMatrix (a constant)."""
from __future__ import annotations

import numpy as np
import onnx

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


@ONNX.register("MelWeightMatrix", since=17)
def mel_weight_matrix(node: OnnxNode):
    """The (dft_length // 2 + 1, num_mel_bins) triangular filter bank, computed at import time as the spec says."""
    bins, length = _scalar(node, 0, "num_mel_bins"), _scalar(node, 1, "dft_length")
    rate = _scalar(node, 2, "sample_rate")
    low, high = (float(np.asarray(node.const(i, what)).reshape(-1)[0])
                 for i, what in ((3, "lower_edge_hertz"), (4, "upper_edge_hertz")))
    low_mel, high_mel = (2595 * np.log10(1 + hz / 700) for hz in (low, high))
    mels = np.arange(bins + 2) * (high_mel - low_mel) / (bins + 2) + low_mel
    edges = (((length + 1) * 700 * (10 ** (mels / 2595) - 1)) // rate).astype(int)
    out = np.zeros((length // 2 + 1, bins))
    for i, (left, centre, right) in enumerate(zip(edges, edges[1:], edges[2:])):
        if centre == left:
            out[centre, i] = 1
        else:
            out[left:centre + 1, i] = (np.arange(left, centre + 1) - left) / (centre - left)
        if right > centre:
            out[centre:right, i] = (right - np.arange(centre, right)) / (right - centre)
    dtype = int(node.attr("output_datatype", onnx.TensorProto.FLOAT))
    return out.astype(onnx.helper.tensor_dtype_to_np_dtype(dtype))
