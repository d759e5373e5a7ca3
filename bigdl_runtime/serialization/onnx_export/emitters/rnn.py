"""LSTM, GRU and RNN as the ONNX recurrent ops, one node per stacked layer.

ONNX wants time-major input ``(T, N, I)``, gates in another order (LSTM
``i, o, f, c`` for PyTorch's ``i, f, g, o``; GRU ``z, r, h`` for ``r, z, n``, with
``linear_before_reset=1``, PyTorch's formulation), weights stacked per
direction ``(D, G*H, I)`` and the two biases concatenated ``(D, 2*G*H)``. Its
``Y`` is ``(T, D, N, H)``; ``Y_h`` is ``(D, N, H)``: the final state of each
direction (the reverse one's is at ``t = 0``), which is our
``return_sequences=False`` output. Time and batch stay dynamic.
"""
from __future__ import annotations

import numpy as np

from ....nn.layers.rnn import GRU, LSTM, RNN, _RNNBase
from ..context import ExportContext, Value
from ..dispatch import by_class, emits

#: ONNX op and the PyTorch gate index of each ONNX gate
_OPS = {LSTM: ("LSTM", (0, 3, 1, 2)), GRU: ("GRU", (1, 0, 2)), RNN: ("RNN", (0,))}


def reorder(array: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """A stacked-gate weight or bias with its gate blocks put in ONNX order (``order[i]``: our block of gate i)."""
    gates = array.reshape(len(order), -1, *array.shape[1:])
    return gates[list(order)].reshape(array.shape)


def _layer_weights(ctx: ExportContext, layer: _RNNBase, k: int, order: tuple[int, ...], name: str) -> list[str]:
    """W, R (and B) initializers of stacked layer ``k``, all directions."""
    per_dir = [[None if p is None else reorder(p.data, order) for p in layer._layer_params(k, suffix)]
               for suffix in layer._suffixes]
    names = [ctx.weight(f"{name}.W_l{k}", np.stack([d[0] for d in per_dir])),
             ctx.weight(f"{name}.R_l{k}", np.stack([d[1] for d in per_dir]))]
    if layer.bias:
        names.append(ctx.weight(f"{name}.B_l{k}", np.stack([np.concatenate([d[2], d[3]]) for d in per_dir])))
    return names


def _merge_directions(ctx: ExportContext, y: str, directions: int, perm: list[int], name: str) -> str:
    """``Y (T, D, N, H)`` permuted by ``perm`` (D kept third) with ``D, H`` merged, or D squeezed when 1."""
    if directions == 1 and perm == [0, 1, 2, 3]:
        return ctx.one("Squeeze", [y, ctx.ints(f"{name}/d_axis", [1])], name)
    moved = ctx.one("Transpose", [y], f"{name}/layout", perm=perm)
    return ctx.one("Reshape", [moved, ctx.ints(f"{name}/merge", [0, 0, -1])], name)


@emits(LSTM, GRU, RNN)
def recurrent(ctx: ExportContext, layer: _RNNBase, inputs: list[Value], output: np.ndarray, name: str) -> str:
    op, order = by_class(_OPS, layer)
    directions = layer._directions
    attrs = {"hidden_size": layer.hidden_size, "direction": "bidirectional" if directions == 2 else "forward"}
    if isinstance(layer, GRU):
        attrs["linear_before_reset"] = 1
    if isinstance(layer, RNN):
        attrs["activations"] = [layer.nonlinearity.capitalize()] * directions
    seq = inputs[0].name
    if layer.batch_first:
        seq = ctx.one("Transpose", [seq], f"{name}/time_major", perm=[1, 0, 2])
    n_out = 3 if op == "LSTM" else 2
    for k in range(layer.num_layers):
        last = k == layer.num_layers - 1
        y, y_h = ctx.node(op, [seq, *_layer_weights(ctx, layer, k, order, name)], f"{name}/l{k}",
                          n_outputs=n_out, **attrs)[:2]
        if last and not layer.return_sequences:
            if directions == 1:
                return ctx.one("Squeeze", [y_h, ctx.ints(f"{name}/d_axis", [0])], name)
            moved = ctx.one("Transpose", [y_h], f"{name}/batch_major", perm=[1, 0, 2])
            return ctx.one("Reshape", [moved, ctx.ints(f"{name}/merge", [0, -1])], name)
        if last:
            perm = [2, 0, 1, 3] if layer.batch_first else [0, 2, 1, 3]
            return _merge_directions(ctx, y, directions, perm, name)
        seq = _merge_directions(ctx, y, directions, [0, 2, 1, 3], f"{name}/l{k}_out")
    raise AssertionError("unreachable: num_layers >= 1")
