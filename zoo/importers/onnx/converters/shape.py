"""Shape ops: Flatten, Reshape, Transpose, Concat, Split, Squeeze, Unsqueeze, Pad.

Reshape keeps ONNX's full-rank semantics (:class:`ReshapeTo`); a target whose first
entry equals the exported batch size copies the run-time batch instead, so a model
exported at batch 1 scores any batch.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime import nn
from bigdl_runtime.nn.layers.graph_values import ReshapeTo, onnx_target_shape

from ..context import OnnxNode, Sym
from ..registry import ONNX


def axes_of(node: OnnxNode, input_index: int, opset_input: int) -> list[int] | None:
    """``axes`` from the attribute (before ``opset_input``) or from input ``input_index`` (from it on)."""
    if node.ctx.opset >= opset_input:
        axes = node.const(input_index, "axes")
    else:
        axes = node.attr("axes")
    return None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]


@ONNX.register("Flatten", since=1)
def flatten(node: OnnxNode):
    rank = node.rank(0)
    axis = int(node.attr("axis", 1))
    if axis < 0 and rank is not None:
        axis += rank  # (with the rank unknown the layer counts a negative axis from the end per call)
    if axis == 0:
        return node.apply(ReshapeTo([1, -1]), [node.value(0)])
    return node.apply(nn.Flatten(axis), [node.value(0)])


@ONNX.register("Reshape", since=5)
def reshape(node: OnnxNode):
    x = node.value(0)
    allowzero = bool(node.attr("allowzero", 0))
    if isinstance(node.value(1), Sym):  # a target computed in the graph (from a dynamic batch size)
        return node.apply(ReshapeTo(allowzero=allowzero), [x, node.value(1)])
    target = [int(s) for s in np.asarray(node.const(1, "shape")).reshape(-1)]
    in_shape = node.shape(0)
    if not isinstance(x, Sym):
        return np.asarray(x).reshape(onnx_target_shape(np.shape(x), target, allowzero))
    if in_shape and target and not allowzero and in_shape[0] is not None and target[0] == in_shape[0]:
        target[0] = 0  # the batch size the model was exported with: copy the run-time batch instead
    return node.apply(ReshapeTo(target, allowzero), [x])


@ONNX.register("Transpose", since=1)
def transpose(node: OnnxNode):
    perm = node.attr("perm")
    if perm is None and node.rank(0) is not None:
        perm = list(range(node.rank(0)))[::-1]
    return node.apply(nn.Transpose(None if perm is None else [int(p) for p in perm]), [node.value(0)])


@ONNX.register("Concat", since=4)
def concat(node: OnnxNode):
    values = [node.value(i) for i in range(node.n_inputs()) if node.given(i)]
    axis = int(node.attr("axis"))
    if not any(isinstance(v, Sym) for v in values):
        return np.concatenate([np.asarray(v) for v in values], axis=axis)
    return node.apply(nn.Concat(axis), values)


@ONNX.register("Split", since=2)
def split(node: OnnxNode):
    n_out = len(node.outputs)
    axis = int(node.attr("axis", 0))
    if node.ctx.opset >= 13 and isinstance(node.value(1), Sym):  # sizes computed per call
        out = node.apply(nn.SplitBy(dim=axis), [node.value(0), node.value(1)], n_outputs=n_out)
        return list(out) if n_out > 1 else [out]
    sizes = node.attr("split") if node.ctx.opset < 13 else node.const(1, "split")
    shape = node.shape(0)
    if sizes is None and (shape is None or shape[axis] is None):  # equal parts of a size known at run time
        out = node.apply(nn.Chunk(n_out, dim=axis), [node.value(0)], n_outputs=n_out)
        return list(out) if n_out > 1 else [out]
    if sizes is None:
        dim = int(shape[axis])
        chunk = -(-dim // n_out)
        if node.ctx.opset < 18 and dim % n_out:
            raise node.error(f"axis size {dim} does not split into {n_out} equal parts")
        sizes = [chunk] * (dim // chunk) + ([dim % chunk] if dim % chunk else [])
    sizes = [int(s) for s in np.asarray(sizes).reshape(-1)]
    if len(sizes) != n_out:
        raise node.error(f"{len(sizes)} split sizes for {n_out} outputs")
    out = node.apply(nn.Split(sizes, dim=axis), [node.value(0)], n_outputs=n_out)
    return list(out)


@ONNX.register("Squeeze", since=1)
def squeeze(node: OnnxNode):
    x = node.value(0)
    axes = axes_of(node, 1, 13)
    if not isinstance(x, Sym):
        return np.squeeze(np.asarray(x), axis=None if axes is None else tuple(axes))
    return node.apply(nn.Squeeze(axes), [x])


@ONNX.register("Unsqueeze", since=1)
def unsqueeze(node: OnnxNode):
    x = node.value(0)
    axes = axes_of(node, 1, 13)
    if axes is None:
        raise node.error("axes are required")
    if not isinstance(x, Sym):
        return np.expand_dims(np.asarray(x), tuple(axes))
    return node.apply(nn.Unsqueeze(axes), [x])


@ONNX.register("Pad", since=2)
def pad(node: OnnxNode):
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise node.error(f"pad mode {mode!r} is not supported")
    if node.ctx.opset < 11:
        pads, value = [int(p) for p in node.attr("pads", node.attr("paddings", []))], float(node.attr("value", 0.0))
    else:
        cval = node.const(2, "constant_value")
        value = 0.0 if cval is None or np.size(cval) == 0 else float(np.asarray(cval).reshape(-1)[0])
        axes = node.const(3, "axes")
        fixed = None if axes is None else [int(a) for a in np.asarray(axes).reshape(-1)]
        if isinstance(node.value(1), Sym):  # pads computed in the graph (e.g. "SAME" from the input's size)
            if mode == "wrap":
                raise node.error("computed pads with mode 'wrap' are not supported")
            return node.apply(nn.Pad(None, mode=mode, value=value, axes=fixed), [node.value(0), node.value(1)])
        pads = [int(p) for p in np.asarray(node.const(1, "pads")).reshape(-1)]
        if axes is not None and mode != "wrap":  # the layer spreads them over the axes (no rank needed here)
            return node.apply(nn.Pad(pads, mode=mode, value=value, axes=fixed), [node.value(0)])
        if axes is not None:
            rank = node.need_rank(0)
            axes = [int(a) + rank if int(a) < 0 else int(a) for a in np.asarray(axes).reshape(-1)]
            full = [0] * (2 * rank)
            for k, a in enumerate(axes):
                full[a], full[rank + a] = pads[k], pads[len(axes) + k]
            pads = full
    if mode == "wrap":
        return _wrap(node, node.value(0), pads)
    return node.apply(nn.Pad(pads, mode=mode, value=value), [node.value(0)])


def _wrap(node: OnnxNode, x, pads: list[int]):
    """Circular padding: each padded axis becomes [last b entries, x, first e entries] (Slice + Concat)."""
    rank = len(pads) // 2
    if min(pads) < 0:
        raise node.error("negative pads with mode 'wrap' are not supported")
    for axis in range(rank):
        begin, end = pads[axis], pads[rank + axis]
        if not begin and not end:
            continue
        parts = []
        if begin:
            parts.append(node.apply(nn.Slice([-begin], [2**62], [axis]), [x], suffix=f"/wrap{axis}_head"))
        parts.append(x)
        if end:
            parts.append(node.apply(nn.Slice([0], [end], [axis]), [x], suffix=f"/wrap{axis}_tail"))
        x = node.apply(nn.Concat(axis), parts, suffix=f"/wrap{axis}")
    return x
