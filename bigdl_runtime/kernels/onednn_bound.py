"""oneDNN primitives compiled for one shape with their buffers bound to library memories once: the base of the
small inference plans (:mod:`.onednn_rnn`, :mod:`.onednn_matmul`).

Small per-call work (a streaming model's frame, one LSTM step's product) costs more in making library memories
around numpy arrays than in arithmetic when each call makes them (:func:`.onednn_int8.matmul_int8` spends 53 us
of overhead on a (1, 512) x (512, 2048) product). A plan makes its primitive, its memories and their buffers
when it is compiled; a call copies its inputs into the bound buffers (or re-points one memory), runs the
primitive and copies the outputs out. Plans run with a user scratchpad (no allocation per call) and on the
OpenMP thread count they were compiled for (oneDNN sizes its work for the threads it sees then), one thread
below :data:`THREADED_MACS`. The library objects are freed when the plan is dropped (by the next compile:
a finalizer may run while the runtime lock is held); a plan compiled before a fork does not run in the child.
"""
from __future__ import annotations

import ctypes
import weakref
from typing import Any, Sequence

import numpy as np

from .onednn import Unsupported, _rt, available
from .onednn_runtime import ExecArg, P
from .threads import block_threads

__all__ = ["BoundPlan", "Unsupported"]

DIMS = ctypes.c_int64 * 12
F32, S32, S8, U8 = 3, 4, 5, 6
TAG_ANY, TAG_A, TAG_AB, TAG_ABC, TAG_ABCD, TAG_ABCDE = 1, 2, 3, 4, 5, 6
ARG_SRC, ARG_WEIGHTS, ARG_BIAS, ARG_DST, ARG_SCRATCHPAD, ARG_ZERO_POINTS = 1, 33, 41, 17, 80, 8192
_SCRATCHPAD_USER = 1
_ARG_FROM, _ARG_TO = 1, 17
Q_WEIGHTS, _Q_SCRATCHPAD = 131, 136
#: multiply-adds (of one call, or one time step of a recurrence) from which a plan runs on the kernels' threads
THREADED_MACS = 1 << 24

_P = ctypes.POINTER(P)
_SIGNATURES = {
    "dnnl_lstm_forward_primitive_desc_create": (ctypes.c_int, [_P, P, ctypes.c_int, ctypes.c_int, *[P] * 11,
                                                               ctypes.c_uint, P]),
    "dnnl_primitive_attr_set_scratchpad_mode": (ctypes.c_int, [P, ctypes.c_int]),
}


def _declare() -> bool:
    """Declare the C signatures the plans add to :mod:`.onednn_runtime`'s (False: the library lacks one)."""
    for name, (restype, argtypes) in _SIGNATURES.items():
        fn = getattr(_rt.lib, name, None)
        if fn is None:
            return False
        fn.restype, fn.argtypes = restype, argtypes
    return True


_declared: bool | None = None


def threads_for(macs: int) -> int:
    """The OpenMP threads a plan of ``macs`` multiply-adds is compiled for and runs on."""
    return max(1, block_threads()) if macs >= THREADED_MACS else 1


class BoundPlan:
    """A primitive compiled for one shape with its buffers bound to library memories (which the plan owns and
    frees); see the module docstring.

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
            raise Unsupported("this oneDNN lacks functions the plans need")
        self.generation = _rt.generation
        self._objects: list[tuple[str, P]] = []  # (destroy function, handle), freed with the plan
        self._finalizer = weakref.finalize(self, _retire, self._objects, self.generation)
        try:
            _rt.run(lambda: (_destroy_retired(), compile_()), self.threads)  # oneDNN sizes its work for these threads
        except RuntimeError as err:
            self._finalizer()
            raise Unsupported(f"oneDNN {what} {self.shape}: {err}") from None

    def valid(self) -> bool:
        """Whether the plan may run in this process (it was not compiled before a fork)."""
        return self.generation == _rt.generation

    def _own(self, fn: str, handle: P) -> P:
        self._objects.append((fn, handle))
        return handle

    def _md(self, dims: Sequence[int], tag: int, dtype: int = F32) -> P:
        md = P()
        _rt.call("dnnl_memory_desc_create_with_tag", ctypes.byref(md), len(dims), DIMS(*dims), dtype, tag)
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

    def _matmul_pd(self, src: P, weights: P, dst: P, zero_point_of: int | None = None) -> P:
        """A matmul primitive descriptor with a user scratchpad (see :meth:`_scratchpad_attr`); pass it to
        :meth:`_primitive`, which owns it."""
        attr = self._scratchpad_attr(zero_point_of)
        pd = P()
        try:
            _rt.call("dnnl_matmul_primitive_desc_create", ctypes.byref(pd), _rt.engine, src, weights, None, dst, attr)
        finally:
            _rt.call("dnnl_primitive_attr_destroy", attr)
        return pd

    def _packed(self, pd: P, index: int, plain_md: P, plain: np.ndarray) -> tuple[np.ndarray, Any]:
        """A buffer in the layout the primitive chose for weights ``index`` and the (reorder, arguments) that
        fill it from ``plain`` (described by ``plain_md``)."""
        packed_md = _rt.lib.dnnl_primitive_desc_query_md(pd, Q_WEIGHTS, index)
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


def execute(prim: P, args: Any) -> None:
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
