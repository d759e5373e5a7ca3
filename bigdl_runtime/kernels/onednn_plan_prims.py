"""The primitives of a oneDNN inference plan (:mod:`.onednn_plan`): memory descriptors, primitive descriptors
and primitives of each kind of step (convolution, inner product, pooling, eltwise, binary, concat, resampling,
reorders, channel sub-memories), with the weights reordered once into the layouts the primitives pick. Every
object made is recorded in the plan's entry, so that the plan can release them whatever fails."""
from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from . import pool as pool_kernels
from .conv_geometry import ConvGeometry
from .onednn import ELTWISE, Unsupported, _dims, _md, _rt, primitive_attr
from .onednn_plan_ops import Conv, Dense, Eltwise, Pool, Step
from .onednn_runtime import ExecArg, P

TAG_ANY, TAG_A, TAG_AB, TAG_ABCD, TAG_ABCDE = 1, 2, 3, 5, 6
ARG_SRC, ARG_DST = 1, 17
Q_DST = 133
_FORWARD_INFERENCE, _CONV_DIRECT = 96, 1
_POOL_MAX, _POOL_AVG_INCLUDE, _POOL_AVG_EXCLUDE = 0x1ff, 0x2ff, 0x3ff
_BINARY = {"add": 0x1fff0, "mul": 0x1fff1}
_RESAMPLING_NEAREST = 0x2fff0
_Q_SRC, _Q_WEIGHTS = 129, 131
_ALIGN = 64  # bytes: activation and weight buffers start on a cache line


def aligned(nbytes: int) -> np.ndarray:
    """An uninitialised byte buffer starting on a cache line."""
    raw = np.empty(nbytes + _ALIGN, dtype=np.uint8)
    start = -raw.ctypes.data % _ALIGN
    return raw[start:start + nbytes]


class Primitives:
    """What :class:`.onednn_plan.Plan` builds its program from; it sets ``_entry`` (``{"prims", "reorders",
    "pds", "mds"}``), ``_memories`` and ``_keep`` (the arrays memories point into) before using them."""

    _entry: dict[str, Any]
    _memories: list[P]
    _keep: list[np.ndarray]

    def _new_md(self, shape: tuple[int, ...], tag: int) -> P:
        self._entry["mds"].append(_md(shape, tag))
        return self._entry["mds"][-1]

    def _pd(self, name: str, fn: str, *args: Any) -> P:
        made = P()
        try:
            _rt.call(fn, ctypes.byref(made), _rt.engine, *args)
        except RuntimeError as err:
            raise Unsupported(str(err)) from None
        self._entry["pds"][name] = made
        return made

    def _prim(self, pd: P) -> P:
        prim = P()
        _rt.call("dnnl_primitive_create", ctypes.byref(prim), pd)
        self._entry["prims"][len(self._entry["prims"])] = prim
        return prim

    def _reorder(self, src: P, dst: P) -> P:
        pd = P()
        _rt.call("dnnl_reorder_primitive_desc_create", ctypes.byref(pd), src, _rt.engine, dst, _rt.engine, None)
        try:
            return self._prim(pd)
        finally:
            _rt.call("dnnl_primitive_desc_destroy", pd)

    def _attr(self, post: list[tuple[str, Any]]) -> P | None:
        return primitive_attr(post) if post else None

    def _with_attr(self, post: list[tuple[str, Any]], make: Any) -> P:
        attr = self._attr(post)
        try:
            return make(attr)
        finally:
            if attr is not None:
                _rt.call("dnnl_primitive_attr_destroy", attr)

    def _conv(self, step: Step, shapes: dict[int, tuple[int, ...]]) -> tuple[P, tuple[P, P, P]]:
        op: Conv = step.op
        x_shape = shapes[step.inputs[0]]
        geo = ConvGeometry(x_shape, op.weight.shape, op.stride, op.padding, op.dilation, op.groups)
        w_shape = op.weight.shape
        if geo.groups > 1:
            w_shape = (geo.groups, w_shape[0] // geo.groups, *w_shape[1:])
        pt, pl, pb, pr = geo.pads
        anyx, anyw = self._new_md(x_shape, TAG_ANY), self._new_md(w_shape, TAG_ANY)
        anyy = self._new_md(shapes[step.out], TAG_ANY)
        bias = self._new_md((geo.o,), TAG_A) if op.bias is not None else None
        conv = (_dims(geo.sh, geo.sw), _dims(geo.dh - 1, geo.dw - 1), _dims(pt, pl), _dims(pb, pr))
        key = f"conv{step.out}"
        pd = self._with_attr(step.post, lambda attr: self._pd(
            key, "dnnl_convolution_forward_primitive_desc_create", _FORWARD_INFERENCE, _CONV_DIRECT,
            anyx, anyw, bias, anyy, *conv, attr))
        layouts = tuple(P(_rt.lib.dnnl_primitive_desc_query_md(pd, q, 0)) for q in (_Q_SRC, _Q_WEIGHTS, Q_DST))
        return self._prim(pd), layouts

    def _dense(self, step: Step, src_md: P, x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> tuple[P, P, P]:
        """The inner product of a Dense step reading ``src_md`` (2-D, or the 4-D value a Flatten views, its
        weights then seen as (O, C, H, W)); its primitive, reordered weights and output layout."""
        op: Dense = step.op
        w = np.ascontiguousarray(op.weight, dtype=np.float32).reshape(op.weight.shape[0], *x_shape[1:])
        anyw, anyy = self._new_md(w.shape, TAG_ANY), self._new_md(y_shape, TAG_ANY)
        bias = self._new_md((w.shape[0],), TAG_A) if op.bias is not None else None
        pd = self._with_attr(step.post, lambda attr: self._pd(
            f"dense{step.out}", "dnnl_inner_product_forward_primitive_desc_create", _FORWARD_INFERENCE,
            src_md, anyw, bias, anyy, attr))
        lw, ly = (P(_rt.lib.dnnl_primitive_desc_query_md(pd, q, 0)) for q in (_Q_WEIGHTS, Q_DST))
        plain = self._new_md(w.shape, TAG_AB if w.ndim == 2 else TAG_ABCD)
        return self._prim(pd), self._reordered(w, plain, lw), ly

    def _weights(self, op: Conv, layout: P) -> P:
        """A memory holding the convolution's weights reordered once into ``layout`` (a buffer the plan keeps)."""
        w = np.ascontiguousarray(op.weight, dtype=np.float32)
        shape = w.shape if op.groups == 1 else (op.groups, w.shape[0] // op.groups, *w.shape[1:])
        return self._reordered(w, self._new_md(shape, TAG_ABCD if op.groups == 1 else TAG_ABCDE), layout)

    def _reordered(self, w: np.ndarray, plain: P, layout: P) -> P:
        """A memory holding ``w`` (described by ``plain``) reordered into ``layout``, in a buffer the plan keeps."""
        out = aligned(_rt.lib.dnnl_memory_desc_get_size(layout))
        src, dst = self._memory(plain, w), self._memory(layout, out)
        reorder = self._reorder(plain, layout)
        _rt.call("dnnl_primitive_execute", reorder, _rt.stream, 2,
                 (ExecArg * 2)(ExecArg(ARG_SRC, src), ExecArg(ARG_DST, dst)))
        _rt.call("dnnl_stream_wait", _rt.stream)
        return dst

    def _pool(self, step: Step, src_md: P, shapes: dict[int, tuple[int, ...]]) -> tuple[P, P]:
        op: Pool = step.op
        x_shape, y_shape = shapes[step.inputs[0]], shapes[step.out]
        if op.kernel_size is None:
            k, s, d, pads, alg = x_shape[2:], (1, 1), (1, 1), (0, 0, 0, 0), _POOL_AVG_EXCLUDE
        else:
            geo = pool_kernels._geometry(x_shape, op.kernel_size, op.stride, op.padding, op.dilation, op.ceil_mode)
            k, s, d, pads = geo["k"], geo["s"], geo["d"], list(geo["pads"])
            for axis in (0, 1):  # oneDNN's rule: out = (in + lo + hi - extent) // stride + 1; ceil mode pads hi
                extent = d[axis] * (k[axis] - 1) + 1
                need = (y_shape[2 + axis] - 1) * s[axis] + extent - x_shape[2 + axis] - pads[axis]
                if (x_shape[2 + axis] + pads[axis] + pads[axis + 2] - extent) // s[axis] + 1 != y_shape[2 + axis]:
                    if op.kind != "max":  # the windows past the padding would be averaged differently
                        raise Unsupported("ceil-mode average pooling is not planned")
                    pads[axis + 2] = need
            alg = _POOL_MAX if op.kind == "max" else (_POOL_AVG_INCLUDE if op.count_include_pad else _POOL_AVG_EXCLUDE)
        anyy = self._new_md(y_shape, TAG_ANY)
        pd = self._pd(f"pool{step.out}", "dnnl_pooling_forward_primitive_desc_create", _FORWARD_INFERENCE, alg,
                      src_md, anyy, _dims(*s), _dims(*k), _dims(d[0] - 1, d[1] - 1), _dims(pads[0], pads[1]),
                      _dims(pads[2], pads[3]), None)
        return self._prim(pd), P(_rt.lib.dnnl_primitive_desc_query_md(pd, Q_DST, 0))

    def _eltwise(self, md: P, op: Eltwise) -> P:
        pd = self._pd(f"eltwise{len(self._entry['pds'])}", "dnnl_eltwise_forward_primitive_desc_create",
                      _FORWARD_INFERENCE, ELTWISE[op.alg], md, md, float(op.alpha), float(op.beta), None)
        return self._prim(pd)

    def _submemory(self, md: P, shape: tuple[int, ...], channel: int) -> P:
        """The descriptor of the channels from ``channel`` of a value laid out as ``md``, ``shape`` of them."""
        sub = P()
        try:
            _rt.call("dnnl_memory_desc_create_submemory", ctypes.byref(sub), md, _dims(*shape), _dims(0, channel, 0, 0))
        except RuntimeError as err:
            raise Unsupported(str(err)) from None
        self._entry["mds"].append(sub)
        return sub

    def _upsample(self, src: P, y_shape: tuple[int, ...]) -> tuple[P, P]:
        """Nearest-neighbour resampling of a value laid out as ``src`` to ``y_shape`` (whole factors: oneDNN's
        source pixel round((i + 0.5) / f - 0.5) is i // f): its primitive and output layout."""
        anyy = self._new_md(y_shape, TAG_ANY)
        pd = self._pd(f"upsample{len(self._entry['pds'])}", "dnnl_resampling_forward_primitive_desc_create",
                      _FORWARD_INFERENCE, _RESAMPLING_NEAREST, None, src, anyy, None)
        return self._prim(pd), P(_rt.lib.dnnl_primitive_desc_query_md(pd, Q_DST, 0))

    def _concat(self, srcs: list[P], y_shape: tuple[int, ...]) -> tuple[P, P]:
        """A channel concatenation of values laid out as ``srcs``: its primitive and the layout oneDNN picks."""
        anyy = self._new_md(y_shape, TAG_ANY)
        pd = self._pd(f"concat{len(self._entry['pds'])}", "dnnl_concat_primitive_desc_create", anyy, len(srcs), 1,
                      (P * len(srcs))(*srcs), None)
        return self._prim(pd), P(_rt.lib.dnnl_primitive_desc_query_md(pd, Q_DST, 0))

    def _binary(self, kind: str, a: P, b: P, post: list[tuple[str, Any]]) -> P:
        pd = self._with_attr(post, lambda attr: self._pd(
            f"{kind}{len(self._entry['pds'])}", "dnnl_binary_primitive_desc_create", _BINARY[kind], a, b, a, attr))
        return self._prim(pd)

    # -------------------------------------------------------------- buffers
    def _memory(self, md: P, array: np.ndarray | None) -> P:
        mem = P()
        pointer = None if array is None else array.ctypes.data_as(P)
        _rt.call("dnnl_memory_create", ctypes.byref(mem), md, _rt.engine, pointer)
        self._memories.append(mem)
        if array is not None:
            self._keep.append(array)
        return mem
