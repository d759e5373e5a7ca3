"""RecurrentSequence: one recurrent layer with explicit initial states and all final states (ONNX LSTM/GRU/RNN).

:class:`~bigdl_runtime.nn.LSTM` and friends return either the sequence or the final
hidden state; models imported from ONNX also read the final cell state, start from
given states and use the time-major layout. This layer runs the same kernels
(PyTorch's gate order and parameter names) with that interface.
"""
from __future__ import annotations

import math
import operator
import weakref
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from ...kernels import gru_reset_before as KR
from ...kernels import rnn as K
from ...kernels.onednn_rnn import LstmPlan, Unsupported
from .. import init
from ..module import Module, Parameter

_CELLS = {"lstm": (4, K.lstm_forward, K.lstm_backward), "gru": (3, K.gru_forward, K.gru_backward),
          "gru_reset_before": (3, KR.gru_reset_before_forward, KR.gru_reset_before_backward),
          "rnn_tanh": (1, K.rnn_forward, K.rnn_backward), "rnn_relu": (1, K.rnn_forward, K.rnn_backward)}
#: input shapes whose oneDNN plans a layer keeps
PLANS_KEPT = 4
#: layer -> (the parameter arrays the plans copied, {x shape: LstmPlan, or None where oneDNN said no}), kept
#: outside the layer so that copies and pickles of it leave the library handles behind
_plans: "weakref.WeakKeyDictionary[RecurrentSequence, tuple[tuple, OrderedDict]]" = weakref.WeakKeyDictionary()


class RecurrentSequence(Module):
    """One LSTM, GRU or simple-RNN layer over a sequence, returning the sequence and the final states.

    Args:
        cell: ``"lstm"``, ``"gru"`` (PyTorch's formulation, ONNX ``linear_before_reset=1``),
            ``"gru_reset_before"`` (ONNX's default ``linear_before_reset=0``, Keras ``reset_after=False``),
            ``"rnn_tanh"`` or ``"rnn_relu"``.
        input_size: features of each time step.
        hidden_size: features of the hidden state ``H``.
        direction: ``"forward"``, ``"reverse"`` or ``"bidirectional"`` (``D`` = 1, 1 or 2).
        batch_first: inputs and outputs put the batch axis first (ONNX ``layout=1``).
        bias: learn ``bias_ih`` and ``bias_hh``.
        name: optional layer name.

    Parameters are named as PyTorch's: ``weight_ih_l0`` ``(G*H, I)``, ``weight_hh_l0``,
    ``bias_ih_l0``, ``bias_hh_l0``, with ``_reverse`` for the second direction of a
    bidirectional layer (or the only one of a reverse layer).

    Shape:
        - Inputs: ``x`` ``(T, N, I)``, optionally ``h0`` ``(D, N, H)`` and, for the LSTM, ``c0`` ``(D, N, H)``
          (with ``batch_first``: ``(N, T, I)`` and ``(N, D, H)``).
        - Output: a tuple ``(y, h_T)`` (``(y, h_T, c_T)`` for the LSTM) with ``y`` ``(T, D, N, H)``
          and the states ``(D, N, H)`` (with ``batch_first``: ``(N, T, D, H)`` and ``(N, D, H)``).

    Evaluation-mode float32 LSTMs run on oneDNN (:class:`~bigdl_runtime.kernels.onednn_rnn.LstmPlan`, one
    library call for the whole sequence and both directions) with copies of the weights made on first use
    per input shape; a training-mode forward, :meth:`load_state_dict` or new parameter arrays make it copy
    them again. Everything else runs the numpy kernels of :mod:`bigdl_runtime.kernels.rnn`.

    Examples:
        >>> lstm = RecurrentSequence("lstm", 8, 16, direction="bidirectional")
        >>> y, h, c = lstm(np.zeros((5, 2, 8), np.float32))  # (5, 2, 2, 16), (2, 2, 16), (2, 2, 16)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, direction: str = "forward",
                 batch_first: bool = False, bias: bool = True, name: str | None = None) -> None:
        super().__init__(name=name)
        if cell not in _CELLS:
            raise ValueError(f"RecurrentSequence: cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if direction not in ("forward", "reverse", "bidirectional"):
            raise ValueError(f"RecurrentSequence: direction must be forward, reverse or bidirectional, "
                             f"got {direction!r}")
        self.cell, self.direction = cell, direction
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.batch_first, self.bias = bool(batch_first), bool(bias)
        gates = _CELLS[cell][0]
        bound = 1.0 / math.sqrt(self.hidden_size)
        for suffix in self._suffixes:
            shapes = {"weight_ih": (gates * hidden_size, input_size), "weight_hh": (gates * hidden_size, hidden_size)}
            if bias:
                shapes.update(bias_ih=(gates * hidden_size,), bias_hh=(gates * hidden_size,))
            for kind, shape in shapes.items():
                setattr(self, f"{kind}_l0{suffix}", Parameter(init.uniform(shape, -bound, bound)))

    @property
    def _suffixes(self) -> tuple[str, ...]:
        return {"forward": ("",), "reverse": ("_reverse",), "bidirectional": ("", "_reverse")}[self.direction]

    @property
    def _n_states(self) -> int:
        return 2 if self.cell == "lstm" else 1

    def get_config(self) -> dict[str, Any]:
        return {"cell": self.cell, "input_size": self.input_size, "hidden_size": self.hidden_size,
                "direction": self.direction, "batch_first": self.batch_first, "bias": self.bias}

    def _layer_params(self, suffix: str) -> list[Parameter | None]:
        return [self._params.get(f"{kind}_l0{suffix}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    def _check(self, x: np.ndarray, states: Sequence[np.ndarray]) -> None:
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"{self.describe()}: expected input with {self.input_size} features per step, "
                             f"got shape {x.shape}")
        if len(states) > self._n_states:
            raise ValueError(f"{self.describe()}: at most {self._n_states} initial state input(s), got {len(states)}")

    def weights_changed(self) -> None:
        _plans.pop(self, None)

    def infer(self, x: np.ndarray, *states: np.ndarray) -> tuple[np.ndarray, ...]:
        x = np.asarray(x)
        self._check(x, states)
        plan = self._plan(x, states)
        steps, batch = (x.shape[1], x.shape[0]) if self.batch_first else x.shape[:2]
        d, hidden = len(self._suffixes), self.hidden_size
        given = [np.asarray(s) if not self.batch_first else np.asarray(s).transpose(1, 0, 2) for s in states]
        if plan is None or any(s.shape != (d, batch, hidden) for s in given):
            return self.forward_pass(x, *states)[0]  # (which also reports states of the wrong shape)
        y, h, c = plan.run(x.transpose(1, 0, 2) if self.batch_first else x, *given, *[None] * (2 - len(given)))
        y = y.reshape(steps, batch, d, hidden)
        if self.batch_first:
            return np.ascontiguousarray(y.transpose(1, 0, 2, 3)), h.transpose(1, 0, 2), c.transpose(1, 0, 2)
        return (y.reshape(steps, d, batch, hidden) if batch == 1 or d == 1
                else np.ascontiguousarray(y.transpose(0, 2, 1, 3))), h, c

    def _plan(self, x: np.ndarray, states: Sequence[np.ndarray]) -> LstmPlan | None:
        """The oneDNN plan for ``x`` (made on first use, with the current weights), or None: the numpy path."""
        if self.cell != "lstm" or x.dtype != np.float32 or any(np.asarray(s).dtype != np.float32 for s in states):
            return None
        params = tuple(p.data for p in self._params.values())
        weights, plans = _plans.get(self, ((), None))
        if plans is None or len(weights) != len(params) or not all(map(operator.is_, weights, params)):
            # new parameter arrays (astype, flatten_parameters): float32 ones get new plans
            plans = OrderedDict() if all(p.dtype == np.float32 for p in params) else {}
            _plans[self] = (params, plans)
        plan = plans.get(x.shape, False)
        if plan is None or (plan is not False and plan.valid()):
            return plan
        if not isinstance(plans, OrderedDict) or 0 in x.shape:
            return None
        steps, batch = (x.shape[1], x.shape[0]) if self.batch_first else x.shape[:2]
        try:
            plan = LstmPlan(steps, batch, self.input_size, self.hidden_size, self.direction)
            plan.set_weights(*([p.data if p is not None else None for p in params_of]
                               for params_of in zip(*(self._layer_params(s) for s in self._suffixes))))
        except Unsupported:
            plan = None
        plans[x.shape] = plan
        while len(plans) > PLANS_KEPT:
            plans.popitem(last=False)
        return plan

    def forward_pass(self, x: np.ndarray, *states: np.ndarray) -> tuple[tuple[np.ndarray, ...], Any]:
        x = np.asarray(x)
        self._check(x, states)
        _plans.pop(self, None)  # training may change the weights in place: plans copy them again when next used
        seq, states = batch_major(x, states, self.batch_first)
        _, forward_kernel, _ = _CELLS[self.cell]
        extra = {"nonlinearity": self.cell[4:]} if self.cell.startswith("rnn") else {}
        ys, finals, caches = [], [[] for _ in range(self._n_states)], []
        for d, suffix in enumerate(self._suffixes):
            init_states = [s[:, d] for s in states]
            arrays = [None if p is None else p.data for p in self._layer_params(suffix)]
            outs, cache = forward_kernel(seq, *arrays, *init_states, reverse=suffix == "_reverse", **extra)
            caches.append(cache)
            ys.append(outs[0])
            for k in range(self._n_states):
                finals[k].append(outs[1 + k])
        return stack_directions(ys, finals, self.batch_first), (caches, len(states))

    def backward_pass(self, grad_output: tuple, ctx: tuple[list[Any], int]) -> Any:
        caches, n_given = ctx
        grads = list(grad_output) + [None] * (1 + self._n_states - len(grad_output))
        dy, dfinals = grads[0], grads[1:]
        if dy is not None:
            dy = np.asarray(dy) if self.batch_first else np.asarray(dy).transpose(2, 0, 1, 3)  # (N, T, D, H)
        dfinals = [None if g is None else (np.asarray(g) if self.batch_first else np.asarray(g).transpose(1, 0, 2))
                   for g in dfinals]
        _, _, backward_kernel = _CELLS[self.cell]
        dx, dstates = None, [[] for _ in range(n_given)]
        for d, (suffix, cache) in enumerate(zip(self._suffixes, caches)):
            g = (None if dy is None else np.ascontiguousarray(dy[:, :, d]),
                 *(None if f is None else f[:, d] for f in dfinals))
            out = backward_kernel(g, cache)
            for p, grad in zip(self._layer_params(suffix), out[1:5]):
                if p is not None:
                    p.grad += grad
            dx = out[0] if dx is None else dx + out[0]
            for k in range(n_given):
                dstates[k].append(out[5 + k])
        dx = dx if self.batch_first else dx.transpose(1, 0, 2)
        ds = [np.stack(s, axis=1) if self.batch_first else np.stack(s, axis=0) for s in dstates]
        return dx if not ds else (dx, *ds)


def batch_major(x: np.ndarray, states: Sequence[np.ndarray], batch_first: bool) -> tuple[np.ndarray, list]:
    """A recurrent layer's input ``(N, T, I)`` and initial states ``(N, D, H)`` from its declared layout."""
    if batch_first:
        return x, [np.asarray(s) for s in states]
    return x.transpose(1, 0, 2), [np.asarray(s).transpose(1, 0, 2) for s in states]


def stack_directions(ys: Sequence[np.ndarray], finals: Sequence[Sequence[np.ndarray]],
                     batch_first: bool) -> tuple[np.ndarray, ...]:
    """``(y, *final_states)`` in the declared layout from each direction's ``(N, T, H)`` sequence and
    ``(N, H)`` final states (``finals[k][d]``: state ``k`` of direction ``d``)."""
    y = np.stack(ys, axis=2)  # (N, T, D, H)
    states = [np.stack(f, axis=1) for f in finals]  # (N, D, H)
    if not batch_first:
        y = y.transpose(1, 2, 0, 3)
        states = [f.transpose(1, 0, 2) for f in states]
    return (y, *states)


class RecurrentLengths(Module):
    """A :class:`RecurrentSequence` over sequences of per-sample lengths (ONNX ``sequence_lens``).

    Sample ``b`` is run over its first ``lengths[b]`` steps only (a reverse direction starts at
    its last valid step); its outputs past that are zeros and its final states are those of its
    last valid step. Samples of equal length run together, so a batch of full-length
    sequences costs one call of the wrapped layer.

    Args:
        rnn: the recurrent layer (its parameters are this layer's).

    Shape:
        - Inputs: ``x``, an integer vector of ``N`` lengths (each at most ``T``), then the
          initial states, laid out as ``rnn`` takes them.
        - Outputs: as ``rnn``'s; ``backward`` gives the lengths a ``None`` gradient.

    Examples:
        >>> layer = RecurrentLengths(RecurrentSequence("gru", 3, 4))
        >>> y, h = layer(np.ones((5, 2, 3)), np.array([5, 2]))
        >>> bool((y[2:, :, 1] == 0).all())
        True
    """

    stores_children = True

    def __init__(self, rnn: RecurrentSequence, name: str | None = None) -> None:
        super().__init__(name=name)
        self.rnn = rnn

    @classmethod
    def from_children(cls, children: Sequence[Module], config: dict[str, Any], name: str | None
                      ) -> "RecurrentLengths":
        """Rebuild around the saved recurrent layer (the model loader's hook for layers with children)."""
        return cls(children[0], name=name)

    def _axes(self) -> tuple[int, int, int, int]:
        """Batch axes of x, y and the states; the time axis of x and y."""
        return (0, 0, 0, 1) if self.rnn.batch_first else (1, 2, 1, 0)

    def _run(self, x: np.ndarray, states: Sequence[np.ndarray], rows: np.ndarray, steps: int) -> tuple:
        """The wrapped layer's outputs and context over the first ``steps`` steps of samples ``rows``."""
        bx, _, bs, t = self._axes()
        part = np.take(np.take(x, rows, axis=bx), np.arange(steps), axis=t)
        return self.rnn.forward_pass(part, *[np.take(s, rows, axis=bs) for s in states])

    def forward_pass(self, x: np.ndarray, lengths: np.ndarray, *states: np.ndarray) -> tuple[tuple, tuple]:
        """The outputs; the context keeps the input, the states and each length group's call."""
        x, lengths = np.asarray(x), np.asarray(lengths).reshape(-1).astype(np.int64)
        bx, by, bs, t = self._axes()
        if x.ndim != 3 or lengths.size != x.shape[bx] or (lengths < 0).any() or (lengths > x.shape[t]).any():
            raise ValueError(f"{self.describe()}: {lengths.size} lengths {lengths.tolist()} for an input of shape "
                             f"{x.shape}: one per sample, each between 0 and the sequence length {x.shape[t]}")
        groups = [(int(n), np.flatnonzero(lengths == n)) for n in np.unique(lengths)]
        states = [np.asarray(s) for s in states]
        if len(groups) == 1 and groups[0][0] == x.shape[t]:
            out, ctx = self.rnn.forward_pass(x, *states)
            return out, (x, states, groups, [ctx])
        n, steps_all, d, h = x.shape[bx], x.shape[t], len(self.rnn._suffixes), self.rnn.hidden_size
        dtype = np.result_type(x.dtype, *(p.data.dtype for p in self.rnn.parameters()))
        y = np.zeros((n, steps_all, d, h) if self.rnn.batch_first else (steps_all, d, n, h), dtype)
        finals = [np.zeros((n, d, h) if self.rnn.batch_first else (d, n, h), dtype)
                  for _ in range(self.rnn._n_states)]
        ctxs: list[Any] = []
        for steps, rows in groups:
            if not steps:  # empty sequences: zero outputs, the initial states as the final states
                for final, state in zip(finals, states):
                    _put(final, bs, rows, np.take(state, rows, axis=bs))
                ctxs.append(None)
                continue
            outs, ctx = self._run(x, states, rows, steps)
            ctxs.append(ctx)
            _put(y, by, rows, outs[0], time_axis=t, steps=steps)
            for final, out in zip(finals, outs[1:]):
                _put(final, bs, rows, out)
        return (y, *finals), (x, states, groups, ctxs)

    def backward_pass(self, grad_output: tuple, ctx: tuple) -> tuple:
        x, states, groups, ctxs = ctx
        bx, by, bs, t = self._axes()
        if len(groups) == 1 and groups[0][0] == x.shape[t]:
            grads = self.rnn.backward_pass(grad_output, ctxs[0])
            grads = grads if isinstance(grads, tuple) else (grads,)
            return (grads[0], None, *grads[1:])
        dx = np.zeros_like(x)
        dstates = [np.zeros_like(s) for s in states]
        for (steps, rows), group_ctx in zip(groups, ctxs):
            if not steps:
                for k, d in enumerate(dstates):
                    g = grad_output[1 + k]
                    if g is not None:
                        _put(d, bs, rows, np.take(g, rows, axis=bs))
                continue
            sliced = [None if g is None else np.take(np.take(g, rows, axis=by), np.arange(steps), axis=t)
                      if k == 0 else np.take(g, rows, axis=bs) for k, g in enumerate(grad_output)]
            grads = self.rnn.backward_pass(tuple(sliced), group_ctx)
            grads = grads if isinstance(grads, tuple) else (grads,)
            _put(dx, bx, rows, grads[0], time_axis=t, steps=steps)
            for d, g in zip(dstates, grads[1:]):
                _put(d, bs, rows, g)
        return (dx, None, *dstates)


def _put(target: np.ndarray, axis: int, rows: np.ndarray, value: Any, time_axis: int | None = None,
         steps: int = 0) -> None:
    """``target[rows]`` along ``axis`` (and its first ``steps`` entries along ``time_axis``) = ``value``."""
    index: list[Any] = [slice(None)] * target.ndim
    index[axis] = rows
    if time_axis is not None:
        index[time_axis] = slice(0, steps)
    target[tuple(index)] = value
