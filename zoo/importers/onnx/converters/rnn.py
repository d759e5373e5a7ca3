"""LSTM, GRU and RNN onto :class:`RecurrentSequence` (and onnxruntime's com.microsoft DynamicQuantizeLSTM onto
:class:`DynamicQuantizedLSTM`), with ONNX's gate orders mapped to PyTorch's.

ONNX stacks LSTM gates as ``i, o, f, c`` and GRU gates as ``z, r, h``; our kernels
(like PyTorch) use ``i, f, g, o`` and ``r, z, n``. ``B`` holds ``[Wb, Rb]``.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn.layers.quantized_lstm import DynamicQuantizedLSTM
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


def _check_cell_options(node: OnnxNode) -> None:
    """Refuse the options our cells do not have: clipping, coupled input and forget gates, peepholes."""
    if node.attr("clip") is not None:
        raise node.error("cell clipping (clip) is not supported")
    if int(node.attr("input_forget", 0)):
        raise node.error("input_forget=1 is not supported")
    if node.given(7) and np.any(np.asarray(node.const(7, "P")) != 0):
        raise node.error("peephole connections (P) are not supported")


def _whole_sequences(node: OnnxNode, lens: object, time_axis: int) -> bool:
    """Whether ``sequence_lens`` is absent, or constant and every sequence runs the whole input."""
    if lens is None:
        return True
    if isinstance(lens, Sym):
        return False
    shape = node.shape(0)
    steps = None if shape is None else shape[time_axis]
    return steps is not None and bool(np.all(np.asarray(lens) == steps))


def _recurrent(node: OnnxNode, kind: str):
    hidden = int(node.attr("hidden_size", 0))
    direction = node.attr("direction", "forward")
    layout = int(node.attr("layout", 0))
    w, r = np.asarray(node.const(1, "W")), np.asarray(node.const(2, "R"))
    b = node.const(3, "B")
    if hidden <= 0:
        hidden = r.shape[-1]
    _check_cell_options(node)
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
    if _whole_sequences(node, lens, 1 if layout else 0):
        lens = None  # every sequence is whole: the plain layer
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


@ONNX.register("DynamicQuantizeLSTM", since=1, domain="com.microsoft")
def dynamic_quantize_lstm(node: OnnxNode):
    """onnxruntime's int8 LSTM: weights ``(D, I, 4H)`` and ``(D, H, 4H)`` (int8 or uint8), scales and zero
    points per direction (``(D,)``) or per gate column (``(D, 4H)``); onnxruntime reads one zero point per
    direction (the first), which must be 0 for int8 weights and the same for every column of uint8 ones."""
    hidden = int(node.attr("hidden_size", 0))
    direction = node.attr("direction", "forward")
    w, r = np.asarray(node.const(1, "W")), np.asarray(node.const(2, "R"))
    if hidden <= 0:
        hidden = r.shape[1]
    _check_cell_options(node)
    acts = node.attr("activations")
    if acts is not None and acts not in (_DEFAULT_ACTIVATIONS["lstm"], _DEFAULT_ACTIVATIONS["lstm"] * 2):
        raise node.error(f"activations {acts} are not supported (only {_DEFAULT_ACTIVATIONS['lstm']} per direction)")
    if not _whole_sequences(node, node.value(4), 0):
        raise node.error("sequence_lens shorter than the input (or computed) is not supported")
    if w.dtype != r.dtype or w.dtype not in (np.int8, np.uint8):
        raise node.error(f"W and R must both be int8 or both uint8, got {w.dtype} and {r.dtype}")
    directions = 2 if direction == "bidirectional" else 1
    quant = {name: np.asarray(node.const(i, name)) for i, name in
             ((8, "W_scale"), (9, "W_zero_point"), (10, "R_scale"), (11, "R_zero_point"))}
    per_channel = quant["W_scale"].ndim == 2
    for name, value in quant.items():
        if value.shape not in ((directions,), (directions, 4 * hidden)) or (value.ndim == 2) != per_channel:
            raise node.error(f"{name} must have shape ({directions},) or ({directions}, {4 * hidden}) like W_scale, "
                             f"got {value.shape}")
    for name in ("W_zero_point", "R_zero_point"):
        zero = quant[name].reshape(directions, -1)
        if np.any(zero != zero[:, :1]) or (w.dtype == np.int8 and np.any(zero != 0)):
            raise node.error(f"{name} must be 0 for int8 weights and one value per direction for uint8 ones")
    layer = DynamicQuantizedLSTM(w.shape[1], hidden, direction=direction, weight_dtype=str(w.dtype),
                                 per_channel=per_channel, bias=node.given(3))
    b = node.const(3, "B")
    for d, suffix in enumerate(layer.suffixes):
        for kind, weight, prefix in (("ih", w, "W"), ("hh", r, "R")):
            scale = quant[f"{prefix}_scale"][d]
            setattr(layer, f"weight_{kind}_l0{suffix}", _reorder(weight[d].T, "lstm", hidden).T.copy())
            setattr(layer, f"weight_{kind}_scale_l0{suffix}",
                    _reorder(scale, "lstm", hidden).astype(np.float32) if per_channel else scale.astype(np.float32))
            setattr(layer, f"weight_{kind}_zero_point_l0{suffix}",
                    np.asarray(quant[f"{prefix}_zero_point"][d].reshape(-1)[0], w.dtype))
        if b is not None:
            bias = np.asarray(b, np.float32)[d]
            setattr(layer, f"bias_l0{suffix}", _reorder(bias[:4 * hidden] + bias[4 * hidden:], "lstm", hidden))
    inputs = [node.value(0)]
    h0, c0 = node.value(5), node.value(6)
    if h0 is not None or c0 is not None:
        if h0 is None:
            raise node.error("initial_c without initial_h is not supported")
        inputs += [h0] + ([c0] if c0 is not None else [])
    return list(node.apply(layer, inputs, n_outputs=3))
