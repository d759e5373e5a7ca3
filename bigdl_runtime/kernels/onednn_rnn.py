"""float32 LSTM inference on oneDNN's RNN primitive: the whole recurrence, both directions, in one C call.

Why: the numpy LSTM (:mod:`.rnn`) runs about ten numpy calls per time step, so a small layer is all
per-step Python work: a streaming model's frame (one step of a 128-unit LSTM) or a wake-word
classifier's bidirectional 16-step layers cost 12-25 us per step and direction where the arithmetic
takes well under one. Measured on the 2-core machine (16 steps, 96 -> 32 units, one direction):
numpy 188 us, this plan 8 us in the library plus a few us of copies around it.

A :class:`LstmPlan` is compiled for one shape (steps, batch, input and hidden sizes, directions): the
primitive (``vanilla_lstm``, forward inference, ``bidirectional_concat`` for two directions), the
weights reordered once into the layout oneDNN picks, the summed biases, and its own input, state,
output and scratch buffers, all bound to library memories at compile time: a call copies its inputs
in, runs the primitive and copies the outputs out, with no library object made or re-pointed.
Gates are in PyTorch's (and oneDNN's) order ``i, f, g, o``; weights as :mod:`.rnn` takes them,
``(4H, I)`` and ``(4H, H)`` per direction.

The plan holds copies of the weights: :meth:`LstmPlan.set_weights` copies them in again (the layer that
owns a plan decides when, see :class:`~bigdl_runtime.nn.layers.rnn_sequence.RecurrentSequence`).
Small problems run on one OpenMP thread: oneDNN's RNN opens parallel regions at every step, and waking a
second thread for each costs more than the step (the 16-step layer above: 8 us on one thread, 115 us on
two). :class:`~.onednn.Unsupported` when oneDNN is missing or has no implementation; the caller then
runs the numpy kernel, which stays the reference the tests compare this path with.
"""
from __future__ import annotations

import ctypes
from typing import Sequence

import numpy as np

from .onednn_bound import (Q_WEIGHTS, TAG_ABC, TAG_ABCD, TAG_ABCDE, TAG_ANY, BoundPlan, ExecArg, P, Unsupported, _rt,
                           execute, threads_for)

__all__ = ["LstmPlan", "Unsupported"]

_FORWARD_INFERENCE = 96
_LEFT2RIGHT, _RIGHT2LEFT, _BIDIRECTIONAL_CONCAT = 1, 2, 3
_ARG_SRC_LAYER, _ARG_SRC_ITER, _ARG_SRC_ITER_C = 1, 2, 3
_ARG_DST_LAYER, _ARG_DST_ITER, _ARG_DST_ITER_C = 17, 18, 19
_ARG_WEIGHTS_LAYER, _ARG_WEIGHTS_ITER, _ARG_BIAS, _ARG_SCRATCHPAD = 33, 34, 41, 80


class LstmPlan(BoundPlan):
    """One LSTM layer's oneDNN primitive, weights and buffers for one shape; call :meth:`run`.

    Args:
        steps, batch, inputs, hidden: T, N, I and H.
        direction: ``"forward"``, ``"reverse"`` or ``"bidirectional"``.

    Raises:
        Unsupported: oneDNN is not available or has no implementation for this shape.
    """

    def __init__(self, steps: int, batch: int, inputs: int, hidden: int, direction: str) -> None:
        self.shape = (steps, batch, inputs, hidden)
        self.directions = d = 2 if direction == "bidirectional" else 1
        kind = {"forward": _LEFT2RIGHT, "reverse": _RIGHT2LEFT, "bidirectional": _BIDIRECTIONAL_CONCAT}[direction]
        macs = batch * 4 * hidden * (inputs + hidden) * d
        self.threads = threads_for(macs)
        self.x = np.zeros((steps, batch, inputs), np.float32)
        self.h0 = np.zeros((d, batch, hidden), np.float32)
        self.c0 = np.zeros_like(self.h0)
        self.y = np.zeros((steps, batch, d * hidden), np.float32)
        self.h = np.zeros_like(self.h0)
        self.c = np.zeros_like(self.h0)
        self.bias = np.zeros((d, 4, hidden), np.float32)
        self._start(lambda: self._compile(kind), f"LSTM ({direction})")

    def _compile(self, kind: int) -> None:
        steps, batch, inputs, hidden = self.shape
        d = self.directions
        src = self._md((steps, batch, inputs), TAG_ABC)
        state = self._md((1, d, batch, hidden), TAG_ABCD)
        dst = self._md((steps, batch, d * hidden), TAG_ABC)
        plain_w = [self._md((1, d, inputs, 4, hidden), TAG_ABCDE), self._md((1, d, hidden, 4, hidden), TAG_ABCDE)]
        any_w = [self._md((1, d, inputs, 4, hidden), TAG_ANY), self._md((1, d, hidden, 4, hidden), TAG_ANY)]
        bias = self._md((1, d, 4, hidden), TAG_ABCD)
        attr = self._scratchpad_attr()
        pd = P()
        try:
            _rt.call("dnnl_lstm_forward_primitive_desc_create", ctypes.byref(pd), _rt.engine, _FORWARD_INFERENCE,
                     kind, src, state, state, *any_w, None, None, bias, dst, state, state, 0, attr)
        finally:
            _rt.call("dnnl_primitive_attr_destroy", attr)
        self.scratch = self._primitive(pd)
        scratch_md = self.scratch_md
        # the weights: plain (ldigo) staging buffers, reordered into the primitive's layout by set_weights
        self.plain = [np.zeros((d, inputs, 4, hidden), np.float32), np.zeros((d, hidden, 4, hidden), np.float32)]
        self.packed, self._reorders = [], []
        for k, (plain_md, plain) in enumerate(zip(plain_w, self.plain)):
            packed, reorder = self._packed(pd, k, plain_md, plain)
            self.packed.append(packed)
            self._reorders.append(reorder)
        bound = [(_ARG_SRC_LAYER, src, self.x), (_ARG_SRC_ITER, state, self.h0), (_ARG_SRC_ITER_C, state, self.c0),
                 (_ARG_WEIGHTS_LAYER, _rt.lib.dnnl_primitive_desc_query_md(pd, Q_WEIGHTS, 0), self.packed[0]),
                 (_ARG_WEIGHTS_ITER, _rt.lib.dnnl_primitive_desc_query_md(pd, Q_WEIGHTS, 1), self.packed[1]),
                 (_ARG_BIAS, bias, self.bias), (_ARG_DST_LAYER, dst, self.y), (_ARG_DST_ITER, state, self.h),
                 (_ARG_DST_ITER_C, state, self.c), (_ARG_SCRATCHPAD, scratch_md, self.scratch)]
        self.args = (ExecArg * len(bound))(*[ExecArg(arg, self._memory(md, a)) for arg, md, a in bound])

    def set_weights(self, w_ih: Sequence[np.ndarray], w_hh: Sequence[np.ndarray],
                    b_ih: Sequence[np.ndarray | None], b_hh: Sequence[np.ndarray | None]) -> None:
        """Copy each direction's ``(4H, I)`` and ``(4H, H)`` weights and ``(4H,)`` biases (or None) in."""
        hidden = self.shape[3]

        def work() -> None:  # under the lock, as runs: the buffers serve one call at a time
            for k, weights in enumerate((w_ih, w_hh)):
                for d, w in enumerate(weights):
                    self.plain[k][d] = np.asarray(w).reshape(4, hidden, -1).transpose(2, 0, 1)
            for d in range(self.directions):
                self.bias[d] = 0
                for b in (b_ih[d], b_hh[d]):
                    if b is not None:
                        self.bias[d] += np.asarray(b, np.float32).reshape(4, hidden)
            for reorder, args in self._reorders:
                execute(reorder, args)
        _rt.run(work)

    def run(self, x: np.ndarray, h0: np.ndarray | None, c0: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(y (T, N, D*H), h_T (D, N, H), c_T (D, N, H))`` for ``x`` (T, N, I) and initial states (D, N, H)
        (None: zeros), as new arrays."""
        def work() -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # under the lock: the buffers serve one call
            np.copyto(self.x, x)
            for buffer, state in ((self.h0, h0), (self.c0, c0)):
                if state is None:
                    buffer.fill(0)
                else:
                    np.copyto(buffer, state)
            execute(self.prim, self.args)
            return self.y.copy(), self.h.copy(), self.c.copy()
        return _rt.run(work, self.threads)
