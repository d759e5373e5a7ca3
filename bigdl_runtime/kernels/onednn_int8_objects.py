"""The oneDNN objects behind the int8 kernels of :mod:`.onednn_int8`: memory descriptors, cached primitive
entries (each with the layouts it chose, its reorders and its packed weights) and the memories of one
execution. Entries are cached per key and dropped in a forked child (the parent's belong to its engine).
"""
from __future__ import annotations

import ctypes
import os
from collections import OrderedDict
from typing import Any, Callable

import numpy as np

from .onednn import StreamCall, Unsupported, _rt, primitive_attr
from .onednn_runtime import ExecArg, P

_DIMS = ctypes.c_int64 * 12
_TYPES = {np.dtype(np.float32): 3, np.dtype(np.int32): 4, np.dtype(np.int8): 5, np.dtype(np.uint8): 6}
_TAG_ANY, _TAG_A, _TAG_AB = 1, 2, 3
_FORWARD_INFERENCE, _DIRECT = 96, 1
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS = 1, 17, 33, 41
_ARG_SCALES, _ARG_ZERO_POINTS = 4096, 8192
_Q_SRC, _Q_WEIGHTS, _Q_DST = 129, 131, 133
#: primitives kept per process (one entry per geometry, batch size and quantisation signature)
CACHE_SIZE = 256

_cache: OrderedDict[tuple, _Entry] = OrderedDict()


def _dims(values: tuple[int, ...]) -> Any:
    out = _DIMS()
    for i, v in enumerate(values):
        out[i] = int(v)
    return out


def _strided_md(shape: tuple[int, ...], dtype: np.dtype, strides: tuple[int, ...]) -> P:
    """A memory descriptor of an array with these element strides."""
    md = P()
    _rt.call("dnnl_memory_desc_create_with_strides", ctypes.byref(md), len(shape), _dims(tuple(shape)),
             _TYPES[np.dtype(dtype)], _dims(tuple(strides)))
    return md


def _tag_md(shape: tuple[int, ...], dtype: np.dtype, tag: int) -> P:
    md = P()
    _rt.call("dnnl_memory_desc_create_with_tag", ctypes.byref(md), len(shape), _dims(tuple(shape)),
             _TYPES[np.dtype(dtype)], tag)
    return md


def _array_md(array: np.ndarray) -> P:
    """The descriptor of ``array``'s own memory (its shape and strides)."""
    return _strided_md(array.shape, array.dtype, tuple(s // array.itemsize for s in array.strides))


def _attr(scales: dict[int, int], zero_points: dict[int, int], relu: bool | float,
          addend: tuple[float, int] | None = None) -> P:
    """Primitive attributes: runtime scales and zero points per argument (argument -> mask), a sum post-op
    (``addend``: the destination holds ``addend_q``, added as ``scale * (addend_q - zero_point)``) and a ReLU
    post-op after it (a number: clip to [0, relu])."""
    post = [] if addend is None else [("scaled_sum", addend)]
    return primitive_attr(post + ([] if relu is False else [("relu", relu)]), scales, zero_points)


def _build(entry: "_Entry", mds: list[P], attributes: Callable[[], P], describe: Callable[[P], P]) -> None:
    """``entry.build(describe(attributes()))``, then destroy the attributes and the memory descriptors ``mds``."""
    attr = None
    try:
        attr = attributes()
        entry.build(describe(attr))
    finally:
        if attr is not None:
            _rt.call("dnnl_primitive_attr_destroy", attr)
        _rt.destroy([("dnnl_memory_desc_destroy", md) for md in mds])


def _primitive_desc(fn: str, *args: Any) -> P:
    pd = P()
    try:
        _rt.call(fn, ctypes.byref(pd), _rt.engine, *args)
    except RuntimeError as err:
        raise Unsupported(str(err)) from None
    return pd


def _reorder_pd(src: P, dst: P, attr: P | None = None) -> P:
    pd = P()
    try:
        _rt.call("dnnl_reorder_primitive_desc_create", ctypes.byref(pd), src, _rt.engine, dst, _rt.engine, attr)
    except RuntimeError as err:
        raise Unsupported(str(err)) from None
    return pd


class _Entry:
    """One cached primitive with the layouts it chose, the reorders around it and the packed weights of
    every weight array it ran with; owns (and frees) every library object it holds."""

    def __init__(self) -> None:
        self.handles: list[tuple[str, P]] = []  # (destroy function, handle), freed in reverse order
        self.prim = P()
        self.layouts: dict[str, P] = {}
        self.reorders: dict[tuple, P] = {}
        self.packed: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(w) -> (w, its blocked copy)
        self.nhwc = {"src": False, "dst": False}  # whether the chosen layout is plain channels-last

    def own(self, fn: str, handle: P) -> P:
        self.handles.append((fn, handle))
        return handle

    def build(self, pd: P) -> None:
        """Take the primitive descriptor: its primitive and the src/weights/dst layouts it chose."""
        self.own("dnnl_primitive_desc_destroy", pd)
        _rt.call("dnnl_primitive_create", ctypes.byref(self.prim), pd)
        self.own("dnnl_primitive_destroy", self.prim)
        for key, what in (("src", _Q_SRC), ("weights", _Q_WEIGHTS), ("dst", _Q_DST)):
            self.layouts[key] = P(_rt.lib.dnnl_primitive_desc_query_md(pd, what, 0))

    def find_channels_last(self, shapes: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
        """Record which of the chosen layouts (by key: "src", "dst") is NHWC for its (shape, dtype)."""
        for key, (shape, dtype) in shapes.items():
            n, c, h, w = shape
            md = _strided_md(shape, dtype, (h * w * c, 1, w * c, c))
            try:
                self.nhwc[key] = bool(_rt.lib.dnnl_memory_desc_equal(md, self.layouts[key]))
            finally:
                _rt.call("dnnl_memory_desc_destroy", md)

    def reorder(self, src: P, dst: P, key: tuple, quantize: bool = False) -> P:
        """A reorder primitive between two layouts (``quantize``: with a runtime scale and zero point
        on its destination), cached under ``key``."""
        if key not in self.reorders:
            attr = _attr({_ARG_DST: 0}, {_ARG_DST: 0}, False) if quantize else None
            try:
                pd = _reorder_pd(src, dst, attr)
            finally:
                if attr is not None:
                    _rt.call("dnnl_primitive_attr_destroy", attr)
            try:
                prim = P()
                _rt.call("dnnl_primitive_create", ctypes.byref(prim), pd)
            finally:
                _rt.call("dnnl_primitive_desc_destroy", pd)
            self.reorders[key] = self.own("dnnl_primitive_destroy", prim)
        return self.reorders[key]

    def release(self) -> None:
        _rt.destroy(list(reversed(self.handles)))
        self.handles = []


def _forget_after_fork() -> None:
    """In a forked child, start with no primitives: the parent's belong to its engine (see
    :mod:`.onednn_runtime`); they are dropped, not destroyed, as the float32 path's are."""
    _cache.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _cached(key: tuple, make: Any) -> _Entry:
    entry = _cache.get(key)
    if entry is not None:
        _cache.move_to_end(key)
        return entry
    entry = _Entry()
    try:
        make(entry)
    except BaseException:
        entry.release()
        raise
    _cache[key] = entry
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)[1].release()
    return entry


class _Call(StreamCall):
    """The memories of one execution (wrapping numpy arrays), freed when it ends; waits for the stream."""

    def __init__(self) -> None:
        self.memories: list[P] = []
        self.keep: list[np.ndarray] = []

    def memory(self, md: P, array: np.ndarray) -> P:
        self.keep.append(array)
        mem = P()
        _rt.call("dnnl_memory_create", ctypes.byref(mem), md, _rt.engine, array.ctypes.data_as(P))
        self.memories.append(mem)
        return mem

    def temporary(self, md: P) -> tuple[P, np.ndarray]:
        """A fresh memory of layout ``md`` and the numpy array holding it."""
        array = np.empty(_rt.lib.dnnl_memory_desc_get_size(md), dtype=np.uint8)
        return self.memory(md, array), array

    def scalar(self, values: np.ndarray) -> P:
        """A memory holding a vector of runtime scales (float32) or zero points (int32)."""
        values = np.ascontiguousarray(values).reshape(-1)
        md = _tag_md((values.size,), values.dtype, _TAG_A)
        try:
            return self.memory(md, values)
        finally:
            _rt.call("dnnl_memory_desc_destroy", md)

    def run(self, prim: P, args: list[tuple[int, P]]) -> None:
        packed = (ExecArg * len(args))(*[ExecArg(k, v) for k, v in args])
        _rt.call("dnnl_primitive_execute", prim, _rt.stream, len(args), packed)



def _plain(call: _Call, array: np.ndarray) -> tuple[P, P]:
    """(descriptor, memory) of a numpy array as it lies in memory; the caller destroys the descriptor."""
    md = _array_md(array)
    try:
        return md, call.memory(md, array)
    except BaseException:
        _rt.call("dnnl_memory_desc_destroy", md)
        raise


def _wrap(call: _Call, array: np.ndarray) -> P:
    """A memory of a numpy array as it lies in memory (the memory keeps its own copy of the descriptor)."""
    md, mem = _plain(call, array)
    _rt.call("dnnl_memory_desc_destroy", md)
    return mem
