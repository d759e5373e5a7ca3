"""RecurrentSequence (the importer's ONNX-style recurrent layer) back to ONNX LSTM / GRU / RNN.

Same weight layout rules as :mod:`.rnn`; a batch-first layer (ONNX ``layout=1``,
which onnxruntime does not run) is written time-major with Transposes around the node.
RecurrentLengths is the same node with its lengths as ``sequence_lens``.
"""
from __future__ import annotations

import numpy as np
import onnx

from ....nn.layers.rnn_sequence import RecurrentLengths, RecurrentSequence
from ..context import ExportContext, Value
from ..dispatch import emits
from .rnn import reorder

#: cell -> (ONNX op, PyTorch gate index of each ONNX gate, extra attributes)
_CELLS = {"lstm": ("LSTM", (0, 3, 1, 2), {}), "gru": ("GRU", (1, 0, 2), {"linear_before_reset": 1}),
          "gru_reset_before": ("GRU", (1, 0, 2), {"linear_before_reset": 0}),
          "rnn_tanh": ("RNN", (0,), {"activations": ["Tanh"]}), "rnn_relu": ("RNN", (0,), {"activations": ["Relu"]})}


@emits(RecurrentSequence)
def recurrent_sequence(ctx: ExportContext, layer: RecurrentSequence, inputs: list[Value],
                       output: tuple[np.ndarray, ...], name: str) -> list[str]:
    return _recurrent(ctx, layer, [v.name for v in inputs], "", len(output), name)


@emits(RecurrentLengths)
def recurrent_lengths(ctx: ExportContext, layer: RecurrentLengths, inputs: list[Value],
                      output: tuple[np.ndarray, ...], name: str) -> list[str]:
    """The wrapped layer's node with the lengths as ``sequence_lens`` (int32)."""
    lens = ctx.one("Cast", [inputs[1].name], f"{name}/sequence_lens", to=onnx.TensorProto.INT32)
    return _recurrent(ctx, layer.rnn, [inputs[0].name, *[v.name for v in inputs[2:]]], lens, len(output), name)


def _recurrent(ctx: ExportContext, layer: RecurrentSequence, names: list[str], lens: str, n_out: int,
               name: str) -> list[str]:
    """One LSTM / GRU / RNN node on ``names`` (the sequence, then the initial states) and ``lens`` ("" = none)."""
    op, order, extra = _CELLS[layer.cell]
    suffixes = layer._suffixes
    per_dir = [[layer._params.get(f"{kind}_l0{s}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
               for s in suffixes]
    weights = [ctx.weight(f"{name}.W", np.stack([reorder(d[0].data, order) for d in per_dir])),
               ctx.weight(f"{name}.R", np.stack([reorder(d[1].data, order) for d in per_dir]))]
    bias = ""
    if layer.bias:
        bias = ctx.weight(f"{name}.B", np.stack([np.concatenate([reorder(d[2].data, order), reorder(d[3].data, order)])
                                                 for d in per_dir]))
    if layer.batch_first:
        names = [ctx.one("Transpose", [names[0]], f"{name}/time_major", perm=[1, 0, 2])] + [
            ctx.one("Transpose", [s], f"{name}/state{i}_direction_major", perm=[1, 0, 2])
            for i, s in enumerate(names[1:])]
    attrs = dict(extra, hidden_size=layer.hidden_size, direction=layer.direction)
    if "activations" in attrs:
        attrs["activations"] = attrs["activations"] * len(suffixes)
    args = [names[0], *weights, bias, lens, *names[1:]]
    while not args[-1]:
        args.pop()
    if not layer.batch_first:
        return ctx.node(op, args, name, n_outputs=n_out, **attrs)
    raw = ctx.node(op, args, f"{name}/time_major_op", n_outputs=n_out, **attrs)
    seq = ctx.one("Transpose", [raw[0]], name, perm=[2, 0, 1, 3])
    return [seq] + [ctx.one("Transpose", [s], f"{name}:{i + 1}", perm=[1, 0, 2]) for i, s in enumerate(raw[1:])]
