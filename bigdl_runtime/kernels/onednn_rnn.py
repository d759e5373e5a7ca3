"""Recurrent layers' inference on oneDNN: the float32 LSTM on its RNN primitive (the whole recurrence, both
directions, in one C call) and the int8 products of the dynamically quantised LSTM's steps.

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

:class:`Int8MatmulPlan` is one ``(M, K) uint8 x (K, N) int8 -> int32`` matrix product with a run-time
source zero point, its weight packed once and its buffers bound the same way: what
:func:`.dynamic_quantize.dynamic_quantized_matmul` runs at every step of a quantised LSTM, where
:func:`.onednn_int8.matmul_int8` (general: memories made per call) spent 53 us of overhead on a
(1, 512) x (512, 2048) product.
"""
from __future__ import annotations

import ctypes
import weakref
from typing import Any, Sequence

import numpy as np

from .onednn import Unsupported, _rt, available
from .onednn_runtime import ExecArg, P
from .threads import block_threads

__all__ = ["Int8MatmulPlan", "LstmPlan", "Unsupported"]

_DIMS = ctypes.c_int64 * 12
_F32, _S32, _S8, _U8 = 3, 4, 5, 6
_TAG_ANY, _TAG_A, _TAG_AB, _TAG_ABC, _TAG_ABCD, _TAG_ABCDE = 1, 2, 3, 4, 5, 6
_FORWARD_INFERENCE = 96
_LEFT2RIGHT, _RIGHT2LEFT, _BIDIRECTIONAL_CONCAT = 1, 2, 3
_SCRATCHPAD_USER = 1
_ARG_SRC_LAYER, _ARG_SRC_ITER, _ARG_SRC_ITER_C = 1, 2, 3
_ARG_DST_LAYER, _ARG_DST_ITER, _ARG_DST_ITER_C = 17, 18, 19
_ARG_WEIGHTS_LAYER, _ARG_WEIGHTS_ITER, _ARG_BIAS, _ARG_SCRATCHPAD = 33, 34, 41, 80
_ARG_FROM, _ARG_TO = 1, 17
_ARG_SRC, _ARG_WEIGHTS, _ARG_DST, _ARG_ZERO_POINTS = 1, 33, 17, 8192
_Q_WEIGHTS, _Q_SCRATCHPAD = 131, 136
#: multiply-adds of one time step (all directions) from which the primitive runs on the kernels' threads
THREADED_STEP_MACS = 1 << 24

_P = ctypes.POINTER(P)
_SIGNATURES = {
    "dnnl_lstm_forward_primitive_desc_create": (ctypes.c_int, [_P, P, ctypes.c_int, ctypes.c_int, *[P] * 11,
                                                               ctypes.c_uint, P]),
    "dnnl_primitive_attr_set_scratchpad_mode": (ctypes.c_int, [P, ctypes.c_int]),
}


def _declare() -> bool:
    """Declare the C signatures this module adds to :mod:`.onednn_runtime`'s (False: the library lacks one)."""
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(_rt.lib, name, None)
        if fn is None:
            return False
        fn.restype, fn.argtypes = restype, argtypes
    return True


_declared: bool | None = None


class _Plan:
    """A primitive compiled for one shape with its buffers bound to library memories (which the plan owns and
    frees): the common part of :class:`LstmPlan` and :class:`Int8MatmulPlan`.

    Subclasses set their buffers, then call :meth:`_start` with the function that compiles the primitive.
    """

    threads: int
    shape: tuple[int, ...]

    def _start(self, compile_: Any, what: str) -> None:
        global _declared
        if not available():
            raise Unsupported("oneDNN is not available")
        if _declared is None:
            _declared = _declare()
        if not _declared:
            raise Unsupported("this oneDNN lacks the functions of the recurrent plans")
        self.generation = _rt.generation
        self._objects: list[tuple[str, P]] = []  # (destroy function, handle), freed with the plan
        self._finalizer = weakref.finalize(self, _retire, self._objects, self.generation)
        try:
            _rt.run(compile_, self.threads)  # oneDNN sizes its work for the threads it sees now
        except RuntimeError as err:
            self._finalizer()
            raise Unsupported(f"oneDNN {what} {self.shape}: {err}") from None

    def valid(self) -> bool:
        """Whether the plan may run in this process (it was not compiled before a fork)."""
        return self.generation == _rt.generation

    def _own(self, fn: str, handle: P) -> P:
        self._objects.append((fn, handle))
        return handle

    def _md(self, dims: Sequence[int], tag: int, dtype: int = _F32) -> P:
        md = P()
        _rt.call("dnnl_memory_desc_create_with_tag", ctypes.byref(md), len(dims), _DIMS(*dims), dtype, tag)
        return self._own("dnnl_memory_desc_destroy", md)

    def _memory(self, md: P, array: np.ndarray) -> P:
        mem = P()
        _rt.call("dnnl_memory_create", ctypes.byref(mem), md, _rt.engine, array.ctypes.data_as(P))
        return self._own("dnnl_memory_destroy", mem)

    def _scratchpad_attr(self, zero_point_of: int | None = None) -> P:
        """Attributes with a user scratchpad (and a run-time zero point of argument ``zero_point_of``); the
        caller destroys them once the primitive descriptor is made."""
        attr = P()
        _rt.call("dnnl_primitive_attr_create", ctypes.byref(attr))
        try:
            _rt.call("dnnl_primitive_attr_set_scratchpad_mode", attr, _SCRATCHPAD_USER)
            if zero_point_of is not None:
                _rt.call("dnnl_primitive_attr_set_zero_points_mask", attr, zero_point_of, 0)
        except RuntimeError:
            _rt.call("dnnl_primitive_attr_destroy", attr)
            raise
        return attr

    def _packed(self, pd: P, index: int, plain_md: P, plain: np.ndarray) -> tuple[np.ndarray, Any]:
        """A buffer in the layout the primitive chose for weights ``index`` and the (reorder, arguments) that
        fill it from ``plain`` (described by ``plain_md``)."""
        packed_md = _rt.lib.dnnl_primitive_desc_query_md(pd, _Q_WEIGHTS, index)
        packed = np.zeros(int(_rt.lib.dnnl_memory_desc_get_size(packed_md)), np.uint8)
        rpd = P()
        _rt.call("dnnl_reorder_primitive_desc_create", ctypes.byref(rpd), plain_md, _rt.engine, packed_md,
                 _rt.engine, None)
        self._own("dnnl_primitive_desc_destroy", rpd)
        reorder = P()
        _rt.call("dnnl_primitive_create", ctypes.byref(reorder), rpd)
        self._own("dnnl_primitive_destroy", reorder)
        return packed, (reorder, (ExecArg * 2)(ExecArg(_ARG_FROM, self._memory(plain_md, plain)),
                                               ExecArg(_ARG_TO, self._memory(packed_md, packed))))

    def _primitive(self, pd: P) -> np.ndarray:
        """Create the primitive of ``pd`` (owned by the plan) and return its scratch buffer."""
        self._own("dnnl_primitive_desc_destroy", pd)
        self.prim = P()
        _rt.call("dnnl_primitive_create", ctypes.byref(self.prim), pd)
        self._own("dnnl_primitive_destroy", self.prim)
        self.scratch_md = _rt.lib.dnnl_primitive_desc_query_md(pd, _Q_SCRATCHPAD, 0)
        return np.zeros(max(int(_rt.lib.dnnl_memory_desc_get_size(self.scratch_md)), 1), np.uint8)



class LstmPlan(_Plan):
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
        self.threads = max(1, block_threads()) if macs >= THREADED_STEP_MACS else 1
        self.x = np.zeros((steps, batch, inputs), np.float32)
        self.h0 = np.zeros((d, batch, hidden), np.float32)
        self.c0 = np.zeros_like(self.h0)
        self.y = np.zeros((steps, batch, d * hidden), np.float32)
        self.h = np.zeros_like(self.h0)
        self.c = np.zeros_like(self.h0)
        self.bias = np.zeros((d, 4, hidden), np.float32)
        self._start(lambda: self._compile(kind), f"LSTM ({direction})")

    def _compile(self, kind: int) -> None:
        _destroy_retired()
        steps, batch, inputs, hidden = self.shape
        d = self.directions
        src = self._md((steps, batch, inputs), _TAG_ABC)
        state = self._md((1, d, batch, hidden), _TAG_ABCD)
        dst = self._md((steps, batch, d * hidden), _TAG_ABC)
        plain_w = [self._md((1, d, inputs, 4, hidden), _TAG_ABCDE), self._md((1, d, hidden, 4, hidden), _TAG_ABCDE)]
        any_w = [self._md((1, d, inputs, 4, hidden), _TAG_ANY), self._md((1, d, hidden, 4, hidden), _TAG_ANY)]
        bias = self._md((1, d, 4, hidden), _TAG_ABCD)
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
                 (_ARG_WEIGHTS_LAYER, _rt.lib.dnnl_primitive_desc_query_md(pd, _Q_WEIGHTS, 0), self.packed[0]),
                 (_ARG_WEIGHTS_ITER, _rt.lib.dnnl_primitive_desc_query_md(pd, _Q_WEIGHTS, 1), self.packed[1]),
                 (_ARG_BIAS, bias, self.bias), (_ARG_DST_LAYER, dst, self.y), (_ARG_DST_ITER, state, self.h),
                 (_ARG_DST_ITER_C, state, self.c), (_ARG_SCRATCHPAD, scratch_md, self.scratch)]
        self.args = (ExecArg * len(bound))(*[ExecArg(arg, self._memory(md, a)) for arg, md, a in bound])

    def set_weights(self, w_ih: Sequence[np.ndarray], w_hh: Sequence[np.ndarray],
                    b_ih: Sequence[np.ndarray | None], b_hh: Sequence[np.ndarray | None]) -> None:
        """Copy each direction's ``(4H, I)`` and ``(4H, H)`` weights and ``(4H,)`` biases (or None) in."""
        hidden = self.shape[3]
        for k, weights in enumerate((w_ih, w_hh)):
            for d, w in enumerate(weights):
                self.plain[k][d] = np.asarray(w).reshape(4, hidden, -1).transpose(2, 0, 1)
        for d in range(self.directions):
            self.bias[d] = 0
            for b in (b_ih[d], b_hh[d]):
                if b is not None:
                    self.bias[d] += np.asarray(b, np.float32).reshape(4, hidden)

        def work() -> None:
            for reorder, args in self._reorders:
                _execute(reorder, args)
        _rt.run(work)

    def run(self, x: np.ndarray, h0: np.ndarray | None, c0: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(y (T, N, D*H), h_T (D, N, H), c_T (D, N, H))`` for ``x`` (T, N, I) and initial states (D, N, H)
        (None: zeros), as new arrays."""
        np.copyto(self.x, x)
        for buffer, state in ((self.h0, h0), (self.c0, c0)):
            if state is None:
                buffer.fill(0)
            else:
                np.copyto(buffer, state)
        _rt.run(lambda: _execute(self.prim, self.args), self.threads)
        return self.y.copy(), self.h.copy(), self.c.copy()


class Int8MatmulPlan(_Plan):
    """``(q - zero_point) @ w`` for ``q`` (M, K) uint8 and the int8 weight ``w`` (K, N), as int32 (M, N), on
    oneDNN's int8 matrix product with everything bound at compile time (see the module docstring).

    Raises:
        Unsupported: oneDNN is not available or has no implementation.
    """

    def __init__(self, rows: int, w: np.ndarray) -> None:
        if w.dtype != np.int8 or w.ndim != 2:
            raise Unsupported(f"an int8 matrix product takes a 2-D int8 weight, got {w.dtype} {w.shape}")
        k, n = w.shape
        self.shape = (rows, k, n)
        self.threads = max(1, block_threads()) if rows * k * n >= THREADED_STEP_MACS else 1
        self.src = np.zeros((rows, k), np.uint8)
        self.dst = np.zeros((rows, n), np.int32)
        self.zero = np.zeros(1, np.int32)
        self.w = np.ascontiguousarray(w)
        self._start(self._compile_matmul, "int8 matmul")

    def _compile_matmul(self) -> None:
        _destroy_retired()
        rows, k, n = self.shape
        src, dst = self._md((rows, k), _TAG_AB, _U8), self._md((rows, n), _TAG_AB, _S32)
        plain_w, any_w = self._md((k, n), _TAG_AB, _S8), self._md((k, n), _TAG_ANY, _S8)
        attr = self._scratchpad_attr(_ARG_SRC)
        pd = P()
        try:
            _rt.call("dnnl_matmul_primitive_desc_create", ctypes.byref(pd), _rt.engine, src, any_w, None, dst, attr)
        finally:
            _rt.call("dnnl_primitive_attr_destroy", attr)
        self.scratch = self._primitive(pd)
        packed, (reorder, reorder_args) = self._packed(pd, 0, plain_w, self.w)
        _execute(reorder, reorder_args)
        zero_md = self._md((1,), _TAG_A, _S32)
        bound = [(_ARG_SRC, src, self.src), (_ARG_WEIGHTS, _rt.lib.dnnl_primitive_desc_query_md(pd, _Q_WEIGHTS, 0),
                                                packed), (_ARG_DST, dst, self.dst),
                 (_ARG_ZERO_POINTS | _ARG_SRC, zero_md, self.zero), (_ARG_SCRATCHPAD, self.scratch_md, self.scratch)]
        self.packed = [packed]
        self.args = (ExecArg * len(bound))(*[ExecArg(arg, self._memory(md, a)) for arg, md, a in bound])

    def run(self, q: np.ndarray, zero_point: int) -> np.ndarray:
        """The int32 product for ``q`` (M, K) of uint8 values with zero point ``zero_point``, as a new array."""
        np.copyto(self.src, q, casting="unsafe")  # integer values (a float array of them converts exactly)
        self.zero[0] = zero_point
        _rt.run(lambda: _execute(self.prim, self.args), self.threads)
        return self.dst.copy()


def _execute(prim: P, args: Any) -> None:
    status = _rt.lib.dnnl_primitive_execute(prim, _rt.stream, len(args), args)
    if status != 0:
        raise RuntimeError(f"oneDNN dnnl_primitive_execute failed with status {status}")


#: library objects of dropped plans, freed by the next compile (a finalizer may run while the runtime lock is
#: held, so it does not take it)
_retired: list[tuple[list[tuple[str, P]], int]] = []


def _retire(objects: list[tuple[str, P]], generation: int) -> None:
    _retired.append((list(objects), generation))
    objects.clear()


def _destroy_retired() -> None:
    """Free the retired plans' objects, newest first (not those made before a fork: their pages are the
    parent's). The caller holds the runtime lock."""
    while _retired:
        objects, generation = _retired.pop()
        if generation == _rt.generation:
            _rt.destroy(list(reversed(objects)))
