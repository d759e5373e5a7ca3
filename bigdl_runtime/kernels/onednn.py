"""float32 convolutions on oneDNN (the library BigDL itself used, as MKL-DNN), through its C API.

Why: an im2col + OpenBLAS convolution builds and re-reads the column matrix and runs GEMMs
whose shapes BLAS handles poorly (16-64 output rows); oneDNN's direct convolution kernels do
neither. Measured on the 2-core AVX-512 machine, forward + backward at PyTorch's speed on every
ResNet layer where the numpy path was 1.3-1.9x (ResNet-18) and 2-2.8x (ResNet-20) slower.

Grouped convolutions use oneDNN's 5-D weights (g, O/g, C/g, kh, kw), the same bytes as our
(O, C/g, kh, kw) array; depthwise ones (``groups == C``, one output channel per group) then run
on its dedicated ``jit_dw`` kernels in the blocked layouts (nChw16c / Goihw16g on AVX-512),
forward, input and weight gradients. A channel multiplier > 1 or another group width is
oneDNN's business: it picks another implementation (direct jit kernels for 4+ channels per
group; its im2col + GEMM otherwise, which stays in use for depthwise multipliers but not for
grouped convolutions of 2-3 channels per group, where our grouped GEMMs are faster: such
geometries raise :class:`Unsupported` and are remembered, see :func:`_numpy_is_faster`).
1x1 convolutions on all but small images skip the reorders: oneDNN runs them on NCHW
(:func:`_plain_pointwise`). A fused ReLU (``relu=True``, inference; a number: ReLU capped there,
ReLU6) is a post-op of the forward primitive: no extra pass over y (measured 7 % on a ResNet 3x3
layer, 25 % on MobileNetV2 depthwise layers, batch 32) - except on those plain 1x1 convolutions,
whose GEMM implementation ran the post-op about 10x slower than the convolution itself (MobileNetV2's
16->96 expansion at 112x112, batch 32: 0.60 s with it, 0.075 s without): there it is one numpy pass
over y after the primitive.

The library comes from the ``onednn-cpu-gomp`` wheel (``libdnnl.so.3``, GNU OpenMP, no other
dependency); when it is not installed, or ``BIGDL_ONEDNN=0``, or the convolution is not a
float32 one, or oneDNN rejects its geometry or would run it slower (:class:`Unsupported`),
:mod:`.conv` keeps its numpy path, which stays the reference the tests compare this one with.
Tensors stay NCHW outside: every call reorders into the layout oneDNN picks (``format_tag any``)
and back.
Primitives are cached per geometry; OpenMP runs as many threads as numpy's BLAS. The library, its
C signatures, the lock and what a fork does live in :mod:`.onednn_runtime`.
"""
from __future__ import annotations

import ctypes
from typing import Any, Sequence

import numpy as np

from .conv_geometry import ConvGeometry
from .onednn_runtime import ExecArg, P as _P, Runtime

_DIMS = ctypes.c_int64 * 12
_F32, _TAG_ANY, _TAG_A, _TAG_ABCD, _TAG_ABCDE = 3, 1, 2, 5, 6
_FORWARD_TRAINING, _DIRECT = 64, 1
#: oneDNN's eltwise algorithms (its algorithm kind numbers) by name, with its definitions of ``alpha`` and ``beta``:
#: relu max(x, 0) + alpha * min(x, 0); clip to [alpha, beta]; linear alpha * x + beta; hardsigmoid
#: clip(alpha * x + beta, 0, 1); hardswish x * hardsigmoid(x); logistic 1 / (1 + exp(-x)); swish
#: x * logistic(alpha * x); tanh; elu
ELTWISE = {"relu": 0x20, "tanh": 0x21, "elu": 0x22, "linear": 0x26, "hardsigmoid": 0x28, "logistic": 0x29,
           "swish": 0x2c, "clip": 0x2e, "hardswish": 0x34}
_ARG_SRC, _ARG_DST, _ARG_WEIGHTS, _ARG_BIAS = 1, 17, 33, 41
_ARG_DIFF_SRC, _ARG_DIFF_DST, _ARG_DIFF_WEIGHTS = 129, 145, 161
_Q_IMPL_INFO_STR = 8
_Q_SRC, _Q_DIFF_SRC, _Q_WEIGHTS, _Q_DIFF_WEIGHTS, _Q_DST, _Q_DIFF_DST = 129, 130, 131, 132, 133, 134
#: primitives kept per process (one entry per convolution geometry and batch size)
CACHE_SIZE = 256
#: blocked scratch memory kept between calls (larger buffers are allocated per call): the small
#: layers, where fresh pages cost most, reuse theirs; the peak memory of big models stays low
SCRATCH_KEEP_BYTES = 64 << 20
#: the same after a forward-only call (a fused ReLU: inference), where nothing of the call is kept for a
#: backward pass: the large blocked copies of big activations are reused instead of faulting in fresh pages
#: every batch (MobileNetV2 b32 at 224: its 112x112 depthwise layers reorder 154 MB each way)
INFERENCE_SCRATCH_KEEP_BYTES = 512 << 20
#: 1x1 convolutions (groups == 1) on inputs of at least this many pixels run in NCHW, no reorders
PLAIN_POINTWISE_MIN_PIXELS = 196


class Unsupported(RuntimeError):
    """oneDNN has no implementation for this convolution (the caller uses the numpy path)."""


_rt = Runtime()


def available() -> bool:
    """Whether convolutions run on oneDNN in this process."""
    with _rt.lock:
        return _rt.ready()


def _dims(*values: int) -> Any:
    out = _DIMS()
    for i, v in enumerate(values):
        out[i] = v
    return out


def _md(shape: tuple[int, ...], tag: int) -> _P:
    md = _P()
    _rt.call("dnnl_memory_desc_create_with_tag", ctypes.byref(md), len(shape), _dims(*shape), _F32, tag)
    return md


def _primitive(pd: _P) -> _P:
    prim = _P()
    _rt.call("dnnl_primitive_create", ctypes.byref(prim), pd)
    return prim


def _reorder(src: _P, dst: _P) -> _P | None:
    """A reorder primitive between two layouts, or None when they are the same."""
    if _rt.lib.dnnl_memory_desc_equal(src, dst):
        return None
    pd = _P()
    _rt.call("dnnl_reorder_primitive_desc_create", ctypes.byref(pd), src, _rt.engine, dst, _rt.engine, None)
    try:
        return _primitive(pd)
    finally:
        _rt.call("dnnl_primitive_desc_destroy", pd)  # the primitive keeps what it needs


def _release(entry: dict[str, Any]) -> None:
    """Free the library objects of a cache entry (evicted, or partly built when a step failed)."""
    prims = [*entry["prims"].values(), *(r for r in entry["reorders"].values() if r is not None)]
    _rt.destroy([*(("dnnl_primitive_destroy", p) for p in prims),
                 *(("dnnl_primitive_desc_destroy", pd) for pd in entry["pds"].values()),
                 *(("dnnl_memory_desc_destroy", md) for md in entry["mds"])])


def _prim(entry: dict[str, Any], kind: str) -> _P:
    """The entry's primitive of ``kind`` ("fwd", "data", "weights"), compiled on first use: inference
    never compiles the backward ones."""
    if kind not in entry["prims"]:
        entry["prims"][kind] = _primitive(entry["pds"][kind])
    return entry["prims"][kind]


def _query(pd: _P, what: int) -> _P:
    """A memory descriptor the primitive descriptor chose (owned by it)."""
    return _P(_rt.lib.dnnl_primitive_desc_query_md(pd, what, 0))


def relu_eltwise(relu: bool | float) -> tuple[str, float, float]:
    """The eltwise ``(algorithm, alpha, beta)`` of a fused ReLU: ``True`` max(x, 0), a number c clip(x, 0, c)."""
    return ("relu", 0.0, 0.0) if relu is True else ("clip", 0.0, float(relu))


def primitive_attr(post: Sequence[tuple[str, Any]] = (), scales: dict[int, int] | None = None,
                   zero_points: dict[int, int] | None = None) -> _P:
    """Primitive attributes, to be destroyed once the primitive descriptor is made.

    ``post``: post-ops in order: ``("sum", None)`` accumulates into the destination, ``("scaled_sum",
    (scale, zero_point))`` accumulates ``scale * (destination - zero_point)`` (an int8 destination holding a
    tensor of another quantisation), ``("eltwise", (name, alpha, beta))`` applies an algorithm of
    :data:`ELTWISE`, ``("relu", relu)`` a ReLU (``relu`` True) or ``clip(y, 0, relu)`` (a number: ReLU6 for 6).
    ``scales`` / ``zero_points``: run-time scales and zero points per argument (argument -> mask).
    """
    attr = _P()
    _rt.call("dnnl_primitive_attr_create", ctypes.byref(attr))
    try:
        for arg, mask in (scales or {}).items():
            _rt.call("dnnl_primitive_attr_set_scales_mask", attr, arg, mask)
        for arg, mask in (zero_points or {}).items():
            _rt.call("dnnl_primitive_attr_set_zero_points_mask", attr, arg, mask)
        if post:
            post_ops = _P()
            _rt.call("dnnl_post_ops_create", ctypes.byref(post_ops))
            try:
                for kind, value in post:
                    if kind == "sum":
                        _rt.call("dnnl_post_ops_append_sum", post_ops, 1.0, 0, 0)  # data type undef: dst's
                        continue
                    if kind == "scaled_sum":
                        scale, zero_point = value
                        _rt.call("dnnl_post_ops_append_sum", post_ops, float(scale), int(zero_point), 0)
                        continue
                    alg, alpha, beta = relu_eltwise(value) if kind == "relu" else value
                    _rt.call("dnnl_post_ops_append_eltwise", post_ops, ELTWISE[alg], float(alpha), float(beta))
                _rt.call("dnnl_primitive_attr_set_post_ops", attr, post_ops)  # the attributes keep a copy
            finally:
                _rt.call("dnnl_post_ops_destroy", post_ops)
    except RuntimeError:
        _rt.call("dnnl_primitive_attr_destroy", attr)
        raise
    return attr


def _plain_pointwise(geo: Any) -> bool:
    """Whether a 1x1 convolution runs on NCHW as it is (oneDNN's GEMM convolution, one GEMM per
    image) instead of its blocked jit_1x1 kernels between two reorders: the reorders cost more
    than the blocked kernels save except on small images (batch 32, 2 threads: MobileNetV2's
    1x1 layers at 112-14 pixels a side 1.5-2.4x faster forward, 1.4-2.2x forward + backward,
    ResNet-18's strided 1x1 at 56 and 14 1.4-1.8x; at 7x7 3-15 % slower, so those stay blocked)."""
    return geo.groups == 1 and geo.kh == geo.kw == 1 and geo.h * geo.w >= PLAIN_POINTWISE_MIN_PIXELS


def _impl(pd: _P) -> str:
    """The name of the implementation oneDNN chose for a primitive descriptor (e.g. "jit_dw:avx512_core")."""
    name = ctypes.c_char_p()
    _rt.call("dnnl_primitive_desc_query", pd, _Q_IMPL_INFO_STR, 0, ctypes.byref(name))
    return (name.value or b"").decode()


def _numpy_is_faster(geo: Any, impl: str) -> bool:
    """Grouped convolutions with several input channels per group that oneDNN can only run as its
    im2col + GEMM per group (2 channels per group on AVX-512): our grouped GEMMs are faster
    (measured 1.2-2x at batch 32, forward and backward). Depthwise ones, with any channel
    multiplier, stay on oneDNN even there (on par with or faster than the numpy path)."""
    return geo.groups > 1 and geo.cg > 1 and "gemm" in impl


def _entry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], geo: Any, bias: bool,
           relu: bool | float = False) -> dict[str, Any]:
    """Primitives and layouts of one convolution geometry (cached); :class:`Unsupported` when
    oneDNN has no implementation for it. ``relu``: the forward applies max(., 0) (a number: clip
    to [0, relu]) as a post-op (inference fusion; such an entry has no backward primitives)."""
    post = relu if isinstance(relu, bool) else ("clip", float(relu))  # True == 1.0: keep them apart
    key = (x_shape, w_shape, geo.groups, geo.sh, geo.sw, geo.pads, geo.dh, geo.dw, bias, post)
    entry = _rt.cache.get(key)
    if entry is not None:
        _rt.cache.move_to_end(key)
        return entry
    if key in _rt.rejected:
        raise Unsupported("left to the numpy path")
    entry: dict[str, Any] = {"plain": {}, "layouts": {}, "prims": {}, "reorders": {}, "pds": {}, "mds": []}
    try:
        _describe(entry, x_shape, w_shape, geo, bias, relu)
    except BaseException as err:
        _release(entry)  # everything made so far, whatever failed
        if isinstance(err, _NumpyFaster):
            if len(_rt.rejected) > 4 * CACHE_SIZE:
                _rt.rejected.clear()
            _rt.rejected.add(key)
        raise
    _rt.cache[key] = entry
    if len(_rt.cache) > CACHE_SIZE:
        _release(_rt.cache.popitem(last=False)[1])
    return entry


class _NumpyFaster(Unsupported):
    """oneDNN would run this geometry slower than the numpy path (remembered: not asked again)."""


def _describe(entry: dict[str, Any], x_shape: tuple[int, ...], w_shape: tuple[int, ...], geo: Any, bias: bool,
              relu: bool | float) -> None:
    """Fill ``entry`` with the memory and primitive descriptors of a convolution, each recorded as soon as
    it exists (so that the caller can release them if a later step fails); :class:`Unsupported` when
    oneDNN has no implementation, or only one slower than the numpy path."""
    def md(shape: tuple[int, ...], tag: int) -> _P:
        entry["mds"].append(_md(shape, tag))
        return entry["mds"][-1]

    def pd(kind: str, fn: str, *args: Any) -> _P:
        made = _P()
        try:
            _rt.call(fn, ctypes.byref(made), _rt.engine, *args)
        except RuntimeError as err:
            raise Unsupported(str(err)) from None
        entry["pds"][kind] = made
        return made

    pt, pl, pb, pr = geo.pads
    y_shape = (geo.n, geo.o, geo.ho, geo.wo)
    if geo.groups > 1:  # oneDNN's grouped weights (g, O/g, C/g, kh, kw): the same bytes as (O, C/g, kh, kw)
        w_shape, w_tag = (geo.groups, w_shape[0] // geo.groups, *w_shape[1:]), _TAG_ABCDE
    else:
        w_tag = _TAG_ABCD
    plain = entry["plain"]
    plain.update(x=md(x_shape, _TAG_ABCD), w=md(w_shape, w_tag), y=md(y_shape, _TAG_ABCD), b=md((geo.o,), _TAG_A))
    act = _TAG_ABCD if _plain_pointwise(geo) else _TAG_ANY
    anyx, anyw, anyy = md(x_shape, act), md(w_shape, _TAG_ANY), md(y_shape, act)
    conv = (_dims(geo.sh, geo.sw), _dims(geo.dh - 1, geo.dw - 1), _dims(pt, pl), _dims(pb, pr))
    attr = primitive_attr([("relu", relu)]) if relu is not False else None
    try:
        fwd = pd("fwd", "dnnl_convolution_forward_primitive_desc_create", _FORWARD_TRAINING, _DIRECT,
                 anyx, anyw, plain["b"] if bias else None, anyy, *conv, attr)
    finally:
        if attr is not None:
            _rt.call("dnnl_primitive_attr_destroy", attr)
    entry["impl"] = _impl(fwd)
    if _numpy_is_faster(geo, entry["impl"]):
        raise _NumpyFaster(f"oneDNN would run this grouped convolution as {entry['impl']}: the numpy path is faster")
    entry["layouts"]["fwd"] = (_query(fwd, _Q_SRC), _query(fwd, _Q_WEIGHTS), _query(fwd, _Q_DST))
    if relu is not False:
        return
    data = pd("data", "dnnl_convolution_backward_data_primitive_desc_create", _DIRECT, anyx, anyw, anyy,
              *conv, fwd, None)
    weights = pd("weights", "dnnl_convolution_backward_weights_primitive_desc_create", _DIRECT, anyx, anyw,
                 None, anyy, *conv, fwd, None)
    entry["layouts"]["data"] = (_query(data, _Q_DIFF_DST), _query(data, _Q_WEIGHTS), _query(data, _Q_DIFF_SRC))
    entry["layouts"]["weights"] = (_query(weights, _Q_SRC), _query(weights, _Q_DIFF_DST),
                                   _query(weights, _Q_DIFF_WEIGHTS))


class StreamCall:
    """The oneDNN memories of one execution (``memories``), a context manager: leaving it waits for the
    stream and frees them, whether the execution succeeded; then :meth:`_after` runs."""

    memories: list[_P]

    def __enter__(self) -> "StreamCall":
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            _rt.call("dnnl_stream_wait", _rt.stream)
        finally:
            _rt.destroy([("dnnl_memory_destroy", mem) for mem in self.memories])
            self._after()

    def _after(self) -> None:
        """What a subclass does once the memories are freed."""


class _Call(StreamCall):
    """Memories of one kernel call: numpy arrays wrapped as plain memories, and blocked scratch
    memories that reorders fill from them or empty into them. Scratch buffers are numpy arrays
    kept per process and reused call after call (the k-th scratch memory of a call takes slot k;
    calls are serialised by the runtime lock), so large blocked copies cost no fresh pages. A context
    manager: leaving it waits for the stream and frees the call's memories, whether the call succeeded."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.entry = entry
        self.memories: list[_P] = []
        self.keep: list[np.ndarray] = []
        self.reordered: list[tuple[np.ndarray, _P, _P]] = []
        self.slot = 0

    def _scratch(self, nbytes: int) -> np.ndarray:
        slots = _rt.scratch
        if self.slot == len(slots):
            slots.append(np.empty(0, dtype=np.float32))
        if slots[self.slot].nbytes < nbytes:
            slots[self.slot] = np.empty(-(-nbytes // 4), dtype=np.float32)
        self.slot += 1
        return slots[self.slot - 1]

    def memory(self, md: _P, array: np.ndarray | None = None) -> _P:
        if array is None:
            array = self._scratch(_rt.lib.dnnl_memory_desc_get_size(md))
        self.keep.append(array)
        mem = _P()
        _rt.call("dnnl_memory_create", ctypes.byref(mem), md, _rt.engine, array.ctypes.data_as(_P))
        self.memories.append(mem)
        return mem

    def run(self, prim: _P, args: list[tuple[int, _P]]) -> None:
        packed = (ExecArg * len(args))(*[ExecArg(k, v) for k, v in args])
        _rt.call("dnnl_primitive_execute", prim, _rt.stream, len(args), packed)

    def into(self, plain_md: _P, array: np.ndarray, layout: _P) -> _P:
        """A memory in ``layout`` holding ``array`` (reordered unless the layouts agree; an array
        already reordered to an equal layout in this call is not reordered again)."""
        for done, done_layout, mem in self.reordered:
            if done is array and _rt.lib.dnnl_memory_desc_equal(done_layout, layout):
                return mem
        src = self.memory(plain_md, array)
        reorder = self._reorder(plain_md, layout)
        if reorder is None:
            return src
        dst = self.memory(layout)
        self.run(reorder, [(_ARG_SRC, src), (_ARG_DST, dst)])
        self.reordered.append((array, layout, dst))
        return dst

    def out(self, layout: _P, plain_md: _P, array: np.ndarray) -> tuple[_P, Any]:
        """A memory in ``layout`` for a result, and a function copying it into ``array``."""
        dst = self.memory(plain_md, array)
        reorder = self._reorder(layout, plain_md)
        if reorder is None:
            return dst, lambda: None
        src = self.memory(layout)
        return src, lambda: self.run(reorder, [(_ARG_SRC, src), (_ARG_DST, dst)])

    def _reorder(self, src: _P, dst: _P) -> _P | None:
        cache = self.entry["reorders"]
        key = (src.value, dst.value)
        if key not in cache:
            cache[key] = _reorder(src, dst)
        return cache[key]

    def _after(self) -> None:  # trims the scratch kept between calls
        slots = _rt.scratch  # keep at most SCRATCH_KEEP_BYTES between calls, dropping the largest first
        keep = SCRATCH_KEEP_BYTES if "data" in self.entry["pds"] else INFERENCE_SCRATCH_KEEP_BYTES
        for k in sorted(range(len(slots)), key=lambda i: -slots[i].nbytes):
            if sum(a.nbytes for a in slots) <= keep:
                break
            slots[k] = np.empty(0, dtype=np.float32)


def _as_row(geo: Any) -> Any:
    """The geometry of ``geo``'s convolution with height and width swapped, for a column (width 1, a kx1
    kernel: a 1-D convolution exported along the height, as TF-style models write them), else None. oneDNN
    blocks its direct kernels along the output width, so a column runs on one output pixel per row
    (measured 4x slower on magika's 5x1 convolution over 512 rows, 256 -> 512 channels, than as a row); NCHW
    arrays of width 1 and height 1 are the same bytes, so the swap costs nothing."""
    if geo.w != 1 or geo.kw != 1 or geo.wo != 1 or geo.h == 1:
        return None
    pt, pl, pb, pr = geo.pads
    return ConvGeometry((geo.n, geo.c, 1, geo.h), (geo.o, geo.cg, 1, geo.kh), (geo.sw, geo.sh), (pl, pt, pr, pb),
                        (geo.dw, geo.dh), geo.groups)


def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, geo: Any,
                   relu: bool | float = False) -> np.ndarray:
    """y (N, O, ho, wo) of a float32 convolution with geometry ``geo`` (any ``geo.groups``; w is
    (O, C/groups, kh, kw)); ``relu``: max(y, 0) (a number: clip(y, 0, relu)), applied by oneDNN as it writes y.
    A column (width 1, a kx1 kernel) runs as the same convolution along a row (:func:`_as_row`)."""
    row = _as_row(geo)
    if row is not None:
        y = conv2d_forward(x.reshape(geo.n, geo.c, 1, geo.h), w.reshape(geo.o, geo.cg, 1, geo.kh), b, row, relu)
        return y.reshape(geo.n, geo.o, geo.ho, 1)
    y = np.empty((geo.n, geo.o, geo.ho, geo.wo), dtype=np.float32)
    after = relu if relu is not False and _plain_pointwise(geo) else False
    if after is not False:  # the GEMM convolution applies post-ops ~10x slower than a numpy pass over y
        relu = False

    def work() -> None:
        entry = _entry(x.shape, w.shape, geo, b is not None, relu)
        plain, (lx, lw, ly) = entry["plain"], entry["layouts"]["fwd"]
        with _Call(entry) as call:
            args = [(_ARG_SRC, call.into(plain["x"], x, lx)), (_ARG_WEIGHTS, call.into(plain["w"], w, lw))]
            if b is not None:
                args.append((_ARG_BIAS, call.memory(plain["b"], b)))
            dst, copy_out = call.out(ly, plain["y"], y)
            call.run(_prim(entry, "fwd"), [*args, (_ARG_DST, dst)])
            copy_out()

    _rt.run(work)
    if after is True:
        np.maximum(y, np.float32(0), out=y)
    elif after is not False:
        np.clip(y, np.float32(0), np.float32(after), out=y)
    return y


def conv2d_backward(dy: np.ndarray, x: np.ndarray, w: np.ndarray, geo: Any) -> tuple[np.ndarray, np.ndarray]:
    """(dx, dw) of :func:`conv2d_forward` (the bias gradient is ``dy``'s sum, left to the caller)."""
    dx, dw = np.empty(x.shape, dtype=np.float32), np.empty(w.shape, dtype=np.float32)

    def work() -> None:
        entry = _entry(x.shape, w.shape, geo, False)
        plain = entry["plain"]
        with _Call(entry) as call:
            ldy, lw, ldx = entry["layouts"]["data"]
            diff_src, copy_dx = call.out(ldx, plain["x"], dx)
            call.run(_prim(entry, "data"), [(_ARG_DIFF_DST, call.into(plain["y"], dy, ldy)),
                                            (_ARG_WEIGHTS, call.into(plain["w"], w, lw)), (_ARG_DIFF_SRC, diff_src)])
            copy_dx()
            lx, ldy2, ldw = entry["layouts"]["weights"]
            diff_w, copy_dw = call.out(ldw, plain["w"], dw)
            call.run(_prim(entry, "weights"), [(_ARG_SRC, call.into(plain["x"], x, lx)),
                                               (_ARG_DIFF_DST, call.into(plain["y"], dy, ldy2)),
                                               (_ARG_DIFF_WEIGHTS, diff_w)])
            copy_dw()

    _rt.run(work)
    return dx, dw
