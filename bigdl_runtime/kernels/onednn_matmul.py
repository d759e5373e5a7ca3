"""Small matrix products on oneDNN with everything bound at compile time (:class:`~.onednn_bound.BoundPlan`).

- :class:`Int8MatmulPlan`: ``(M, K) uint8 x (K, N) int8 -> int32`` with a run-time source zero point, the weight
  packed once: what :func:`.dynamic_quantize.dynamic_quantized_matmul` runs at every step of a quantised LSTM
  (32 us a (1, 512) x (512, 2048) step, where :func:`.onednn_int8.matmul_int8`, which makes its memories per
  call, took 70).
- :class:`MatmulPlan`: float32 ``a (M, K) @ w.T`` for a ``(N, K)`` weight read in place (its memory points at the
  caller's array, re-pointed when another array comes: nothing is copied, so the plan never holds stale
  weights): the product of :class:`~.conv_infer.DirectConv`, a small convolution's window matrix by its
  weights, whose few output positions make a GEMM shape OpenBLAS runs slowly (a streaming VAD's
  (128, 387) x (387, 3) product: 13-21 us in OpenBLAS, 7 us in oneDNN's brgemm).
"""
from __future__ import annotations

import ctypes
from typing import Callable

import numpy as np

from .onednn_bound import (ARG_DST, ARG_SCRATCHPAD, ARG_SRC, ARG_WEIGHTS, ARG_ZERO_POINTS, DIMS, F32, Q_WEIGHTS, S8,
                           S32, TAG_A, TAG_AB, TAG_ANY, U8, BoundPlan, ExecArg, P, Unsupported, _rt, execute,
                           threads_for)

__all__ = ["Int8MatmulPlan", "MatmulPlan", "Unsupported"]


class Int8MatmulPlan(BoundPlan):
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
        self.threads = threads_for(rows * k * n)
        self.src = np.zeros((rows, k), np.uint8)
        self.dst = np.zeros((rows, n), np.int32)
        self.zero = np.zeros(1, np.int32)
        self.w = np.ascontiguousarray(w)
        self._start(self._compile_matmul, "int8 matmul")

    def _compile_matmul(self) -> None:
        rows, k, n = self.shape
        src, dst = self._md((rows, k), TAG_AB, U8), self._md((rows, n), TAG_AB, S32)
        plain_w, any_w = self._md((k, n), TAG_AB, S8), self._md((k, n), TAG_ANY, S8)
        pd = self._matmul_pd(src, any_w, dst, ARG_SRC)
        self.scratch = self._primitive(pd)
        packed, (reorder, reorder_args) = self._packed(pd, 0, plain_w, self.w)
        execute(reorder, reorder_args)
        zero_md = self._md((1,), TAG_A, S32)
        bound = [(ARG_SRC, src, self.src), (ARG_WEIGHTS, _rt.lib.dnnl_primitive_desc_query_md(pd, Q_WEIGHTS, 0),
                                                packed), (ARG_DST, dst, self.dst),
                 (ARG_ZERO_POINTS | ARG_SRC, zero_md, self.zero), (ARG_SCRATCHPAD, self.scratch_md, self.scratch)]
        self.packed = [packed]
        self.args = (ExecArg * len(bound))(*[ExecArg(arg, self._memory(md, a)) for arg, md, a in bound])

    def run(self, q: np.ndarray, zero_point: int) -> np.ndarray:
        """The int32 product for ``q`` (M, K) of uint8 values with zero point ``zero_point``, as a new array."""
        def work() -> np.ndarray:  # under the lock: the buffers serve one call
            np.copyto(self.src, q, casting="unsafe")  # integer values (a float array of them converts exactly)
            self.zero[0] = zero_point
            execute(self.prim, self.args)
            return self.dst.copy()
        return _rt.run(work, self.threads)


class MatmulPlan(BoundPlan):
    """float32 ``a @ w.T`` for ``a`` (M, K) and a C-ordered weight ``w`` (N, K) read where it lies (see the module
    docstring).

    Raises:
        Unsupported: oneDNN is not available or has no implementation.
    """

    def __init__(self, rows: int, inner: int, cols: int) -> None:
        self.shape = (rows, inner, cols)
        self.threads = threads_for(rows * inner * cols)
        self.a = np.zeros((rows, inner), np.float32)
        self.y = np.zeros((rows, cols), np.float32)
        self.w: np.ndarray | None = None  # the weight array the weights memory points at
        self._start(self._compile_matmul, "float32 matmul")

    def _compile_matmul(self) -> None:
        rows, k, n = self.shape
        src, dst = self._md((rows, k), TAG_AB), self._md((rows, n), TAG_AB)
        weights = P()
        _rt.call("dnnl_memory_desc_create_with_strides", ctypes.byref(weights), 2, DIMS(k, n), F32, DIMS(1, k))
        self._own("dnnl_memory_desc_destroy", weights)
        self.scratch = self._primitive(self._matmul_pd(src, weights, dst))
        self.w_memory = self._memory(weights, self.y)  # re-pointed at the weight by run
        bound = [(ARG_SRC, self._memory(src, self.a)), (ARG_WEIGHTS, self.w_memory),
                 (ARG_DST, self._memory(dst, self.y)), (ARG_SCRATCHPAD, self._memory(self.scratch_md, self.scratch))]
        self.args = (ExecArg * len(bound))(*[ExecArg(arg, mem) for arg, mem in bound])

    def run(self, fill: Callable[[np.ndarray], None], w: np.ndarray,
            read: Callable[[np.ndarray], np.ndarray] = np.copy) -> np.ndarray:
        """``read(a @ w.T)`` where ``fill(a)`` writes the (M, K) rows into the plan's buffer (so a caller copies
        them straight from where they lie); ``read`` makes the result from the (M, N) product buffer (a copy:
        the buffer serves the next call). Both run under the runtime lock."""
        if w.dtype != np.float32 or not w.flags.c_contiguous or w.size != self.shape[1] * self.shape[2]:
            raise ValueError(f"the weight must be a C-ordered float32 array of {self.shape[2]} x {self.shape[1]} "
                             f"values, got {w.dtype} {w.shape}")

        def work() -> np.ndarray:
            fill(self.a)
            if w is not self.w:
                _rt.call("dnnl_memory_set_data_handle", self.w_memory, w.ctypes.data_as(P))
                self.w = w
            execute(self.prim, self.args)
            return read(self.y)
        return _rt.run(work, self.threads)
