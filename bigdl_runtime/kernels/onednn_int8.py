"""int8 convolutions and matrix products on oneDNN: u8/s8 activations times s8 weights, accumulated in s32,
with the requantisation, the bias and a ReLU fused into the primitive.

What one call computes (oneDNN's quantisation model, v3 scales as attributes)::

    acc = sum((x_q - x_zero_point) * w_q)                     int32, exact
    y   = relu(acc * x_scale * w_scale[o] + bias[o]          float32 output
               [+ r_scale * (r_q - r_zero_point)])            (a residual: the sum post-op, see conv2d_int8)
    y_q = saturate(rint(y / y_scale) + y_zero_point)          u8 / s8 output (fused requantisation)

and with an int32 output, ``acc`` itself (no scales, bias or ReLU): the integer accumulator the ONNX
operators requantise in numpy (:mod:`.quantize`), because oneDNN rounds ``acc * x_scale * w_scale / y_scale``
after two float products where onnxruntime rounds one (ties can differ by one step).

Inputs: an integer array is the quantised activation itself; a float32 array is quantised on the way in by a
oneDNN reorder (``saturate(rint(x / x_scale) + x_zero_point)`` into the convolution's blocked layout, one pass).
Arrays are described to oneDNN with their own strides, so the output of a convolution returned as a (N, C, H, W)
view of its NHWC memory (``channels_last``; integer outputs by default) feeds the next int8 convolution without
a reorder, and the float layers in between (ReLU, Add, pooling: numpy) read such views as they are. Measured
on ResNet-18 layers (batch 32, 2 threads): a float32 NCHW input costs the convolution 1.4-2x its time in the
quantising reorder, and a float32 NCHW output 1.5x, against NHWC on both sides. Weights are reordered into oneDNN's blocked layout
(with its s8 compensation) once per weight array and kept with the primitive.

Primitives are cached per geometry and quantisation signature (:mod:`.onednn_int8_objects`); they share the
lock, engine and stream of the float32 path (:mod:`.onednn`), hence its fork handling. :class:`Unsupported`
when oneDNN is missing or has no implementation: the caller runs the numpy reference (:mod:`.quantize`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .onednn import Unsupported, _rt
from .onednn_bound import threads_for
from .onednn_int8_objects import (_ARG_BIAS, _ARG_DST, _ARG_SCALES, _ARG_SRC, _ARG_WEIGHTS, _ARG_ZERO_POINTS,
                                  _DIRECT, _FORWARD_INFERENCE, _TAG_A, _TAG_AB, _TAG_ANY, _TYPES, P, _attr, _build,
                                  _cached, _Call, _dims, _Entry, _plain, _primitive_desc, _strided_md, _tag_md,
                                  _wrap)

__all__ = ["available", "conv2d_int8", "matmul_int8", "Unsupported"]

def available() -> bool:
    """Whether int8 convolutions and matrix products run on oneDNN in this process."""
    with _rt.lock:
        return _rt.ready()


def _channels_last(x: np.ndarray) -> np.ndarray:
    """x (N, C, H, W) as a view of NHWC memory (copied unless it is one already)."""
    if x.strides[1] == x.itemsize and x.strides[3] == x.shape[1] * x.itemsize:
        return x
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _source(entry: _Entry, call: _Call, x: np.ndarray, scale: float, zero_point: int) -> P:
    """The memory of the primitive's source: ``x`` itself when it is quantised and already in the chosen
    layout, else reordered (and quantised, for a float32 ``x``) into it. An NCHW ``x`` going to an NHWC
    layout is transposed by numpy first: oneDNN's reorder across the two layouts, quantising or not, took
    2-3x numpy's copy (ResNet-18 layers, batch 32), its reorder within one layout is fast."""
    layout = entry.layouts["src"]
    if entry.nhwc["src"]:
        x = _channels_last(x)
    md, mem = _plain(call, x)
    try:
        if x.dtype != np.float32 and _rt.lib.dnnl_memory_desc_equal(md, layout):
            return mem
        key = ("src", x.dtype.str, x.strides)
        quantize = x.dtype == np.float32
        reorder = entry.reorder(md, layout, key, quantize)
    finally:
        _rt.call("dnnl_memory_desc_destroy", md)
    dst, _ = call.temporary(layout)
    args = [(_ARG_SRC, mem), (_ARG_DST, dst)]
    if quantize:
        args += [(_ARG_SCALES | _ARG_DST, call.scalar(np.array([scale], np.float32))),
                 (_ARG_ZERO_POINTS | _ARG_DST, call.scalar(np.array([zero_point], np.int32)))]
    call.run(reorder, args)
    return dst


def _weights(entry: _Entry, call: _Call, w: np.ndarray, view: np.ndarray) -> P:
    """The memory of the weights in the primitive's blocked layout, packed from ``view`` (``w`` seen with the
    primitive's dimensions) on first use of the array holding ``w``'s memory (weights are not changed in
    place once an int8 layer has run)."""
    layout = entry.layouts["weights"]
    w = w if w.base is None else w.base  # the array owning the memory: a transposed view is made per call
    if id(w) not in entry.packed:
        md, mem = _plain(call, view)
        try:
            reorder = entry.reorder(md, layout, ("weights", w.strides))
        finally:
            _rt.call("dnnl_memory_desc_destroy", md)
        dst, blocked = call.temporary(layout)
        call.run(reorder, [(_ARG_SRC, mem), (_ARG_DST, dst)])
        if len(entry.packed) > 64:
            entry.packed.clear()
        entry.packed[id(w)] = (w, blocked)  # w is kept: its id is not reused while the entry lives
        return dst
    return call.memory(layout, entry.packed[id(w)][1])


def _run(entry: _Entry, x: np.ndarray, w: np.ndarray, w_view: np.ndarray, quant: dict[str, Any],
         bias: np.ndarray | None, y_shape: tuple[int, ...], y_dtype: np.dtype, channels_last: bool,
         addend: np.ndarray | None = None) -> np.ndarray:
    """Execute a cached conv or matmul entry; the result in ``y_shape``, C order unless ``channels_last``
    (then a (N, C, H, W) view of NHWC memory, when that is the primitive's layout). ``addend``: the values the
    sum post-op accumulates into, copied into the (NHWC) destination first."""
    with _Call() as call:
        args = [(_ARG_SRC, _source(entry, call, x, quant["x_scale"], quant["x_zero_point"])),
                (_ARG_WEIGHTS, _weights(entry, call, w, w_view))]
        if bias is not None:
            args.append((_ARG_BIAS, _wrap(call, bias)))
        if quant["scaled"]:
            args += [(_ARG_SCALES | _ARG_SRC, call.scalar(np.array([quant["x_scale"]], np.float32))),
                     (_ARG_SCALES | _ARG_WEIGHTS, call.scalar(quant["w_scale"]))]
            if quant["y_scale"] is not None:
                args.append((_ARG_SCALES | _ARG_DST, call.scalar(np.array([quant["y_scale"]], np.float32))))
        if quant["x_zero_point"]:
            args.append((_ARG_ZERO_POINTS | _ARG_SRC, call.scalar(np.array([quant["x_zero_point"]], np.int32))))
        if quant["y_zero_point"]:
            args.append((_ARG_ZERO_POINTS | _ARG_DST, call.scalar(np.array([quant["y_zero_point"]], np.int32))))
        if entry.nhwc["dst"]:  # written as it lies; copied to C order by numpy (faster than a reorder) below
            n, c, h, wd = y_shape
            y = np.empty((n, h, wd, c), dtype=y_dtype).transpose(0, 3, 1, 2)
            if addend is not None:
                np.copyto(y, addend)
            call.run(entry.prim, [*args, (_ARG_DST, _wrap(call, y))])
        else:
            y = np.empty(y_shape, dtype=y_dtype)
            md, mem = _plain(call, y)
            try:
                same = _rt.lib.dnnl_memory_desc_equal(md, entry.layouts["dst"])
                reorder = None if same else entry.reorder(entry.layouts["dst"], md, ("dst", y.strides))
            finally:
                _rt.call("dnnl_memory_desc_destroy", md)
            if reorder is None:
                call.run(entry.prim, [*args, (_ARG_DST, mem)])
            else:
                dst, _ = call.temporary(entry.layouts["dst"])
                call.run(entry.prim, [*args, (_ARG_DST, dst)])
                call.run(reorder, [(_ARG_SRC, dst), (_ARG_DST, mem)])
    return y if channels_last or y.flags.c_contiguous else np.ascontiguousarray(y)


def _quant(x: np.ndarray, x_dtype: Any, x_scale: float, x_zero_point: int, w_scale: Any, y_scale: float | None,
           y_zero_point: int, y_dtype: np.dtype) -> dict[str, Any]:
    qtype = np.dtype(x.dtype if x.dtype != np.float32 else x_dtype)
    if qtype not in (np.dtype(np.uint8), np.dtype(np.int8)):
        raise ValueError(f"int8 kernels take uint8 or int8 activations (or float32 to quantise), got {qtype}")
    if y_dtype not in _TYPES:
        raise ValueError(f"int8 kernels write float32, int32, uint8 or int8, got {y_dtype}")
    scaled = y_dtype != np.int32
    if not scaled and (x.dtype == np.float32 or y_zero_point):
        raise ValueError("an int32 (accumulator) output takes quantised inputs and no output zero point")
    return dict(x_dtype=qtype, x_scale=float(x_scale), x_zero_point=int(x_zero_point), scaled=scaled,
                w_scale=np.ascontiguousarray(np.atleast_1d(w_scale), dtype=np.float32),
                y_scale=None if y_scale is None else float(y_scale), y_zero_point=int(y_zero_point))


def _signature(q: dict[str, Any], bias: bool, relu: bool | float, y_dtype: np.dtype,
               addend: tuple[float, int] | None = None) -> tuple:
    post = relu if isinstance(relu, bool) else ("clip", float(relu))
    return (q["x_dtype"].str, q["scaled"], q["w_scale"].size > 1, q["y_scale"] is not None,
            bool(q["x_zero_point"]), bool(q["y_zero_point"]), bias, post, y_dtype.str, addend)


def _attributes(q: dict[str, Any], w_mask: int, relu: bool | float, addend: tuple[float, int] | None = None) -> P:
    scales = {}
    if q["scaled"]:
        scales = {_ARG_SRC: 0, _ARG_WEIGHTS: w_mask if q["w_scale"].size > 1 else 0}
        if q["y_scale"] is not None:
            scales[_ARG_DST] = 0
    zero_points = {_ARG_SRC: 0} if q["x_zero_point"] else {}
    if q["y_zero_point"]:
        zero_points[_ARG_DST] = 0
    return _attr(scales, zero_points, relu, addend)


def conv2d_int8(x: np.ndarray, w: np.ndarray, geo: Any, *, x_scale: float = 1.0, x_zero_point: int = 0,
                x_dtype: Any = np.uint8, w_scale: Any = 1.0, bias: np.ndarray | None = None,
                y_scale: float | None = None, y_zero_point: int = 0, y_dtype: Any = np.float32,
                relu: bool | float = False, channels_last: bool | None = None, addend: np.ndarray | None = None,
                addend_scale: float = 1.0, addend_zero_point: int = 0) -> np.ndarray:
    """A quantised 2-D convolution (NCHW at the API) on oneDNN; see the module docstring for the formula.

    Args:
        x: (N, C, H, W): uint8/int8 (quantised with ``x_scale``, ``x_zero_point``) or float32 (quantised
            here to ``x_dtype``).
        w: (O, C / groups, kh, kw) int8, symmetric (zero point 0); ``w_scale``: one value or one per
            output channel.
        geo: the :class:`~.conv_geometry.ConvGeometry` of x and w.
        bias: float32 (O,), added after scaling (not with an int32 output).
        y_scale, y_zero_point: the output's quantisation for a uint8/int8 ``y_dtype`` (fused requantisation).
        y_dtype: float32, uint8, int8, or int32 (the raw accumulator: no scales, bias or ReLU).
        relu: max(., 0) before requantising (a number: clip to [0, relu]).
        channels_last: return y as a (N, O, Ho, Wo) view of NHWC memory (the layout the int8 kernels write
            and read: no reorder on either side) rather than C order; None: for integer outputs only.
        addend, addend_scale, addend_zero_point: a residual added before the ReLU (oneDNN's sum post-op),
            ``y = relu(acc * x_scale * w_scale + bias + addend_scale * (addend - addend_zero_point))``:
            (N, O, Ho, Wo) of the output's type: float32, or uint8/int8 quantised with its own scale and zero
            point.

    Returns:
        y (N, O, Ho, Wo) of ``y_dtype``.

    Raises:
        Unsupported: oneDNN is missing or has no implementation (use :mod:`.quantize`).
    """
    y_dtype = np.dtype(y_dtype)
    w = np.asarray(w)
    if w.dtype != np.int8:
        raise ValueError(f"int8 convolution weights must be int8, got {w.dtype}")
    q = _quant(x, x_dtype, x_scale, x_zero_point, w_scale, y_scale, y_zero_point, y_dtype)
    if y_dtype in (np.dtype(np.uint8), np.dtype(np.int8)) and y_scale is None:
        raise ValueError("a uint8/int8 output needs y_scale")
    grouped = geo.groups > 1
    w_shape = (geo.groups, geo.og, geo.cg, geo.kh, geo.kw) if grouped else tuple(w.shape)
    y_shape = (geo.n, geo.o, geo.ho, geo.wo)
    add = None if addend is None else _addend(addend, y_shape, y_dtype, addend_scale, addend_zero_point)
    threads = threads_for(geo.n * geo.o * geo.ho * geo.wo * geo.cg * geo.kh * geo.kw)
    key = ("conv", tuple(x.shape), w_shape, geo.sh, geo.sw, geo.pads, geo.dh, geo.dw,
           _signature(q, bias is not None, relu, y_dtype, add), threads)

    def make(entry: _Entry) -> None:
        n, o, ho, wo = y_shape  # with an addend, the destination is NHWC, where the addend is copied
        dst = _tag_md(y_shape, y_dtype, _TAG_ANY) if add is None else _strided_md(
            y_shape, y_dtype, (ho * wo * o, 1, wo * o, o))
        mds = [_tag_md(tuple(x.shape), q["x_dtype"], _TAG_ANY), _tag_md(w_shape, np.int8, _TAG_ANY),
               _tag_md((geo.o,), np.float32, _TAG_A), dst]
        pt, pl, pb, pr = geo.pads
        _build(entry, mds, lambda: _attributes(q, 3 if grouped else 1, relu, add), lambda attr: _primitive_desc(
            "dnnl_convolution_forward_primitive_desc_create", _FORWARD_INFERENCE, _DIRECT, mds[0], mds[1],
            mds[2] if bias is not None else None, mds[3], _dims((geo.sh, geo.sw)),
            _dims((geo.dh - 1, geo.dw - 1)), _dims((pt, pl)), _dims((pb, pr)), attr))
        entry.find_channels_last({"src": (tuple(x.shape), q["x_dtype"]), "dst": (y_shape, y_dtype)})

    def work() -> np.ndarray:
        if not _rt.ready():
            raise Unsupported("oneDNN is not available")
        entry = _cached(key, make)
        b = None if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
        last = y_dtype != np.float32 if channels_last is None else channels_last
        return _run(entry, x, w, w.reshape(w_shape), q, b, y_shape, y_dtype, last, addend)

    return _rt.run(work, threads)


def _addend(addend: np.ndarray, y_shape: tuple[int, ...], y_dtype: np.dtype, scale: float,
            zero_point: int) -> tuple[float, int]:
    """The sum post-op's (scale, zero point) for ``addend``, checked against the output."""
    if tuple(addend.shape) != tuple(y_shape):
        raise ValueError(f"the addend must have the output's shape {y_shape}, got {addend.shape}")
    if y_dtype == np.int32 or addend.dtype != y_dtype:
        raise ValueError(f"an addend has the output's type (float32, uint8 or int8), got {addend.dtype} for a "
                         f"{y_dtype} output")
    return float(scale), int(zero_point)


def matmul_int8(x: np.ndarray, w: np.ndarray, *, x_scale: float = 1.0, x_zero_point: int = 0,
                x_dtype: Any = np.uint8, w_scale: Any = 1.0, bias: np.ndarray | None = None,
                y_scale: float | None = None, y_zero_point: int = 0, y_dtype: Any = np.float32,
                relu: bool | float = False) -> np.ndarray:
    """A quantised matrix product ``x @ w`` on oneDNN; the same quantisation as :func:`conv2d_int8`.

    Args:
        x: (M, K) uint8/int8, or float32 quantised here to ``x_dtype``.
        w: (K, N) int8, symmetric, any strides (a Linear layer passes its (N, K) weight transposed);
            ``w_scale``: one value or one per column.
        bias: float32 (N,).

    Returns:
        y (M, N) of ``y_dtype``, C order.

    Raises:
        Unsupported: oneDNN is missing or has no implementation (use :mod:`.quantize`).
    """
    y_dtype = np.dtype(y_dtype)
    w = np.asarray(w)
    if w.dtype != np.int8 or x.ndim != 2 or w.ndim != 2 or x.shape[1] != w.shape[0]:
        raise ValueError(f"int8 matmul takes x (M, K) and int8 w (K, N), got {x.shape} and {w.dtype} {w.shape}")
    if y_dtype in (np.dtype(np.uint8), np.dtype(np.int8)) and y_scale is None:
        raise ValueError("a uint8/int8 output needs y_scale")
    q = _quant(x, x_dtype, x_scale, x_zero_point, w_scale, y_scale, y_zero_point, y_dtype)
    m, k = x.shape
    n = w.shape[1]
    threads = threads_for(m * k * n)
    key = ("matmul", m, k, n, _signature(q, bias is not None, relu, y_dtype), threads)

    def make(entry: _Entry) -> None:
        mds = [_tag_md((m, k), q["x_dtype"], _TAG_AB), _tag_md((k, n), np.int8, _TAG_ANY),
               _tag_md((1, n), np.float32, _TAG_AB), _tag_md((m, n), y_dtype, _TAG_AB)]
        _build(entry, mds, lambda: _attributes(q, 2, relu), lambda attr: _primitive_desc(
            "dnnl_matmul_primitive_desc_create", mds[0], mds[1], mds[2] if bias is not None else None, mds[3], attr))

    def work() -> np.ndarray:
        if not _rt.ready():
            raise Unsupported("oneDNN is not available")
        entry = _cached(key, make)
        b = None if bias is None else np.ascontiguousarray(bias, dtype=np.float32).reshape(1, n)
        return _run(entry, x, w, w, q, b, (m, n), y_dtype, False)

    return _rt.run(work, threads)
