"""LSTM, GRU and RNN onto :class:`RecurrentSequence`, with ONNX's gate orders mapped to PyTorch's.

ONNX stacks LSTM gates as ``i, o, f, c`` and GRU gates as ``z, r, h``; our kernels
(like PyTorch) use ``i, f, g, o`` and ``r, z, n``. ``B`` holds ``[Wb, Rb]``.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn.layers.rnn_sequence import RecurrentLengths, RecurrentSequence

from ..context import OnnxNode, Sym
from ..registry import ONNX

#: for each gate of our order, the index of its block in ONNX's order
_ORDER = {"lstm": [0, 2, 3, 1], "gru": [1, 0, 2], "rnn": [0]}
_DEFAULT_ACTIVATIONS = {"lstm": ["Sigmoid", "Tanh", "Tanh"], "gru": ["Sigmoid", "Tanh"], "rnn": ["Tanh"]}


def _reorder(w: np.ndarray, kind: str, hidden: int) -> np.ndarray:
    """Rows of a (G*H, ...) block matrix from ONNX's gate order to ours."""
    blocks = [w[k * hidden:(k + 1) * hidden] for k in range(len(_ORDER[kind]))]
    return np.concatenate([blocks[k] for k in _ORDER[kind]], axis=0)


def _recurrent(node: OnnxNode, kind: str):
    hidden = int(node.attr("hidden_size", 0))
    direction = node.attr("direction", "forward")
    layout = int(node.attr("layout", 0))
    w, r = np.asarray(node.const(1, "W")), np.asarray(node.const(2, "R"))
    b = node.const(3, "B")
    if hidden <= 0:
        hidden = r.shape[-1]
    if node.attr("clip") is not None:
        raise node.error("cell clipping (clip) is not supported")
    if int(node.attr("input_forget", 0)):
        raise node.error("input_forget=1 is not supported")
    acts = node.attr("activations")
    cell = kind
    if acts is not None:
        n_dir = 2 if direction == "bidirectional" else 1
        per_dir = len(_DEFAULT_ACTIVATIONS[kind])
        if kind == "rnn" and acts[:1] == ["Relu"] * 1 and all(a == "Relu" for a in acts):
            cell = "rnn_relu"
        elif [a for a in acts] != _DEFAULT_ACTIVATIONS[kind] * n_dir and acts != _DEFAULT_ACTIVATIONS[kind]:
            raise node.error(f"activations {acts} are not supported (only {_DEFAULT_ACTIVATIONS[kind]} per "
                             f"direction{', or Relu for RNN' if kind == 'rnn' else ''}; {per_dir} per direction)")
    if kind == "rnn" and cell == "rnn":
        cell = "rnn_tanh"
    if kind == "gru" and int(node.attr("linear_before_reset", 0)) == 0:
        cell = "gru_reset_before"
    lens = node.value(4)
    if lens is not None and not isinstance(lens, Sym):
        shape = node.shape(0)
        steps = None if shape is None else shape[1 if layout else 0]
        if steps is not None and np.all(np.asarray(lens) == steps):
            lens = None  # every sequence is whole: the plain layer
    if kind == "lstm" and node.given(7):
        peep = node.const(7, "P")
        if np.any(np.asarray(peep) != 0):
            raise node.error("peephole connections (P) are not supported")
    layer = RecurrentSequence(cell, w.shape[-1], hidden, direction=direction, batch_first=bool(layout),
                              bias=True)
    suffixes = {"forward": [""], "reverse": ["_reverse"], "bidirectional": ["", "_reverse"]}[direction]
    gates = len(_ORDER[kind]) * hidden
    for d, suffix in enumerate(suffixes):
        bias = np.zeros(2 * gates, w.dtype) if b is None else np.asarray(b)[d]
        getattr(layer, f"weight_ih_l0{suffix}").data[...] = _reorder(w[d], kind, hidden)
        getattr(layer, f"weight_hh_l0{suffix}").data[...] = _reorder(r[d], kind, hidden)
        getattr(layer, f"bias_ih_l0{suffix}").data[...] = _reorder(bias[:gates], kind, hidden)
        getattr(layer, f"bias_hh_l0{suffix}").data[...] = _reorder(bias[gates:], kind, hidden)
    inputs = [node.value(0)]
    h0, c0 = node.value(5), (node.value(6) if kind == "lstm" else None)
    if h0 is not None or c0 is not None:
        if h0 is None:
            raise node.error("initial_c without initial_h is not supported")
        inputs.append(h0)
        if c0 is not None:
            inputs.append(c0)
    n_out = 3 if kind == "lstm" else 2
    if lens is not None:  # per-sample lengths (computed, or constant and shorter than the sequence)
        return list(node.apply(RecurrentLengths(layer), [inputs[0], lens, *inputs[1:]], n_outputs=n_out))
    return list(node.apply(layer, inputs, n_outputs=n_out))


@ONNX.register("LSTM", since=7)
def lstm(node: OnnxNode):
    return _recurrent(node, "lstm")


@ONNX.register("GRU", since=7)
def gru(node: OnnxNode):
    return _recurrent(node, "gru")


@ONNX.register("RNN", since=7)
def rnn(node: OnnxNode):
    return _recurrent(node, "rnn")
