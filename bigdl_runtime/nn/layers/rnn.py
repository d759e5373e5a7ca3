"""Recurrent layers: LSTM, GRU and RNN (multi-layer, bidirectional, PyTorch parameter names).

One base class stacks the single-layer, single-direction kernels of
:mod:`bigdl_runtime.kernels.rnn`; the subclasses only pick the kernel pair and
the number of gates.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ...kernels import rnn as K
from .. import init
from ..module import Module, Parameter
from ..random import rng


class _RNNBase(Module):
    """Stacked, optionally bidirectional recurrence over a whole sequence.

    Parameters of layer ``k`` are named as PyTorch's: ``weight_ih_l{k}``
    ``(G*H, in)``, ``weight_hh_l{k}`` ``(G*H, H)``, ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (``G`` gates), plus the same with ``_reverse`` for the
    backward direction; all start from U(-1/sqrt(H), 1/sqrt(H)).
    """

    _gates: int = 1
    _n_states: int = 1  # outputs of the kernel after y: h_T (and c_T for the LSTM)
    _kernel_forward: Callable[..., Any]
    _kernel_backward: Callable[..., Any]

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 return_sequences: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError(f"{self.describe()}: input_size, hidden_size and num_layers must be positive, got "
                             f"{input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{self.describe()}: dropout must be in [0, 1), got {dropout}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.return_sequences = bool(return_sequences)
        bound = 1.0 / math.sqrt(hidden_size)
        rows = self._gates * hidden_size
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else hidden_size * self._directions
            for suffix in self._suffixes:
                setattr(self, f"weight_ih_l{layer}{suffix}", Parameter(init.uniform((rows, in_size), -bound, bound)))
                setattr(self, f"weight_hh_l{layer}{suffix}", Parameter(init.uniform((rows, hidden_size), -bound, bound)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{suffix}", Parameter(init.uniform((rows,), -bound, bound)))
                    setattr(self, f"bias_hh_l{layer}{suffix}", Parameter(init.uniform((rows,), -bound, bound)))

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _layer_params(self, layer: int, suffix: str) -> list[Parameter | None]:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of one layer and direction; biases None without bias."""
        return [self._params.get(f"{kind}_l{layer}{suffix}") for kind in
                ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def _kernel_config(self) -> dict[str, Any]:
        return {}

    def _check_input(self, x: np.ndarray) -> np.ndarray:
        layout = "(N, T, I)" if self.batch_first else "(T, N, I)"
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"{self.describe()}: expected input {layout} with I = {self.input_size}, "
                             f"got shape {x.shape}")
        return x if self.batch_first else x.transpose(1, 0, 2)

    def forward_pass(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[list[Any], np.ndarray | None]]]:
        """The output and, per layer, the kernels' caches of each direction and the dropout mask."""
        inp = self._check_input(np.asarray(x))
        layers = []
        for layer in range(self.num_layers):
            mask = None
            if layer > 0 and self.training and self.dropout > 0:
                keep = rng().random(inp.shape) >= self.dropout
                mask = (keep / (1.0 - self.dropout)).astype(inp.dtype)
                inp = inp * mask
            caches, ys, finals = [], [], []
            for d, suffix in enumerate(self._suffixes):
                arrays = [None if p is None else p.data for p in self._layer_params(layer, suffix)]
                outs, cache = self._kernel_forward(inp, *arrays, reverse=d == 1, **self._kernel_config())
                caches.append(cache)
                ys.append(outs[0])
                finals.append(outs[1])
            layers.append((caches, mask))
            inp = ys[0] if len(ys) == 1 else np.concatenate(ys, axis=-1)
        if not self.return_sequences:
            return (finals[0] if len(finals) == 1 else np.concatenate(finals, axis=-1)), layers
        return (inp if self.batch_first else inp.transpose(1, 0, 2)), layers

    def backward_pass(self, grad_output: np.ndarray, ctx: list[tuple[list[Any], np.ndarray | None]]) -> np.ndarray:
        layers = ctx
        grad_output = np.asarray(grad_output)
        hid = self.hidden_size
        if self.return_sequences:
            dseq = grad_output if self.batch_first else grad_output.transpose(1, 0, 2)
            dfinal = None
        else:
            dseq, dfinal = None, grad_output
        for layer in reversed(range(self.num_layers)):
            caches, mask = layers[layer]
            dinp = None
            for d, (suffix, cache) in enumerate(zip(self._suffixes, caches)):
                part = slice(d * hid, (d + 1) * hid)
                dy = None if dseq is None else dseq[..., part]
                dh = None if dfinal is None else dfinal[:, part]
                grads = self._kernel_backward((dy, dh) + (None,) * (self._n_states - 1), cache)
                for p, g in zip(self._layer_params(layer, suffix), grads[1:5]):
                    if p is not None:
                        p.grad += g
                dinp = grads[0] if dinp is None else dinp + grads[0]
            dseq, dfinal = (dinp if mask is None else dinp * mask), None
        return dseq if self.batch_first else dseq.transpose(1, 0, 2)

    def get_config(self) -> dict[str, Any]:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "bias": self.bias, "batch_first": self.batch_first, "dropout": self.dropout,
                "bidirectional": self.bidirectional, "return_sequences": self.return_sequences}


_SHAPE_DOC = """
    Shape:
        - Input: ``(N, T, input_size)`` with ``batch_first=True`` (the default), else ``(T, N, input_size)``.
        - Output: ``(N, T, D * hidden_size)`` (``(T, N, D * hidden_size)`` when not batch first) with
          ``return_sequences=True``; else ``(N, D * hidden_size)``: the final state of each direction
          of the last layer (PyTorch's ``h_n[-D:]`` concatenated), i.e. the forward direction's output at
          ``T - 1`` and the reverse direction's output at 0. ``D = 2`` if bidirectional else 1.
"""

_ARGS_DOC = """
        input_size: features of each time step.
        hidden_size: features of the hidden state ``H``.
        num_layers: stacked recurrent layers; layer ``k > 0`` reads the output of layer ``k - 1``.
        bias: learn ``bias_ih`` and ``bias_hh``.
        batch_first: input and sequence output are ``(N, T, ...)``; otherwise ``(T, N, ...)``.
        dropout: drop probability on the outputs of every layer but the last, in training only.
        bidirectional: add a reverse-direction recurrence per layer, concatenated on features.
        return_sequences: return the whole output sequence, else only the final states.
        name: optional layer name."""


class LSTM(_RNNBase):
    __doc__ = """Long short-term memory over a sequence, PyTorch's formulation (gates ``i, f, g, o``).

    ``c' = σ(f) * c + σ(i) * tanh(g)``, ``h' = σ(o) * tanh(c')`` with every gate
    ``W_i* x + b_i* + W_h* h + b_h*``; initial states are zeros.

    Args:""" + _ARGS_DOC + "\n" + _SHAPE_DOC + """
    Examples:
        >>> lstm = LSTM(10, 20, num_layers=2, bidirectional=True)
        >>> lstm(np.zeros((3, 5, 10), np.float32)).shape
        (3, 5, 40)
    """

    _gates = 4
    _n_states = 2
    _kernel_forward = staticmethod(K.lstm_forward)
    _kernel_backward = staticmethod(K.lstm_backward)


class GRU(_RNNBase):
    __doc__ = """Gated recurrent unit over a sequence, PyTorch's formulation (gates ``r, z, n``).

    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``
    (ONNX's GRU with ``linear_before_reset=1``); initial state zeros.

    Args:""" + _ARGS_DOC + "\n" + _SHAPE_DOC + """
    Examples:
        >>> gru = GRU(10, 20, return_sequences=False)
        >>> gru(np.zeros((3, 5, 10), np.float32)).shape
        (3, 20)
    """

    _gates = 3
    _kernel_forward = staticmethod(K.gru_forward)
    _kernel_backward = staticmethod(K.gru_backward)


class RNN(_RNNBase):
    __doc__ = """Simple (Elman) recurrence ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act tanh or relu.

    Args:""" + _ARGS_DOC.replace("        bias:", "        nonlinearity: ``\"tanh\"`` or ``\"relu\"``.\n        bias:", 1) \
        + "\n" + _SHAPE_DOC + """
    Examples:
        >>> rnn = RNN(10, 20, nonlinearity="relu", batch_first=False)
        >>> rnn(np.zeros((5, 3, 10), np.float32)).shape
        (5, 3, 20)
    """

    _kernel_forward = staticmethod(K.rnn_forward)
    _kernel_backward = staticmethod(K.rnn_backward)

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0, bidirectional: bool = False,
                 return_sequences: bool = True, name: str | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         return_sequences, name=name)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{self.describe()}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def _kernel_config(self) -> dict[str, Any]:
        return {"nonlinearity": self.nonlinearity}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}
