"""Convolution kernels: ``conv2d`` and ``conv1d`` (cross-correlation, as PyTorch and ONNX ``Conv``).

How the work becomes GEMMs (batch-blocked polyphase im2col):

1. The zero-padded input is split into its ``sh * sw`` polyphase planes
   (``x_pad[:, :, p::sh, q::sw]``, only those some kernel tap reads). Inside a plane every tap
   is a plain (row, column) shift, so strided convolutions copy unit-stride data.
2. For each block of images, im2col copies one window per tap into a reused buffer laid out
   ``(C, taps, nb, pixels)``. Forward is then one GEMM per group,
   ``(O, C*kh*kw) @ (C*kh*kw, nb*pixels)``; the weight gradient one GEMM with the long
   ``nb*pixels`` axis inside; the input gradient one GEMM plus a col2im of one strided add per
   tap. 1x1 kernels skip im2col: their forward and input gradient are one GEMM per image
   straight between the planes and NCHW. Wide outputs use the *flat* layout: a tap's
   input for all output pixels is one contiguous run ``plane[off : off + Ho * Wph]`` and the
   output is computed on an ``Ho x Wph`` grid whose ``Wph - Wo`` extra columns (<= 4 %) are
   dropped; narrow outputs copy exact ``(Ho, Wo)`` windows instead.
3. Depthwise-style groups (one input channel per group) skip the GEMM: one multiply-accumulate
   per tap over the whole block.
4. Blocks are spread over worker threads with BLAS at one thread meanwhile (:mod:`.threads`).

``conv1d`` is ``conv2d`` on a height-1 image. The geometry (planes, taps, blocks) is in
:mod:`.conv_geometry`, shared with :mod:`.conv_transpose`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import onednn, threads
from .conv_geometry import ConvGeometry, IntPair, as_float, pair
from .elementwise import typed
from .gemm import matmul

# ---------------------------------------------------------------------- GEMM path
def _im2col(planes: np.ndarray, geo: ConvGeometry, n0: int, n1: int, buf: np.ndarray) -> np.ndarray:
    """Columns of images n0:n1 as (C, taps, nb, ho, wgrid), written into the flat ``buf``."""
    nb = n1 - n0
    cols = buf[: geo.c * geo.ntaps * nb * geo.length].reshape(geo.c, geo.ntaps, nb, geo.ho, geo.wgrid)
    for t in range(geo.ntaps):
        cols[:, t] = geo.tap_view(planes, t, n0, n1).transpose(1, 0, 2, 3)
        if geo.wrapped_columns[t] is not None:
            cols[:, t, ..., geo.wrapped_columns[t]] = 0
    return cols


def _col2im(dplanes: np.ndarray, dcols: np.ndarray, geo: ConvGeometry) -> None:
    """Add (C, taps, nb, ho, wgrid) column gradients into the gradient planes of those nb images."""
    for t in range(geo.ntaps):
        if geo.wrapped_columns[t] is not None:
            dcols[:, t, ..., geo.wrapped_columns[t]] = 0
        target = geo.tap_view(dplanes, t, 0, dplanes.shape[0]).transpose(1, 0, 2, 3)
        target += dcols[:, t]


def _grid_to_nchw(grid: np.ndarray, geo: ConvGeometry, nb: int) -> np.ndarray:
    """(O, nb * ho * wgrid) computation grid -> (nb, O, ho, wo) view (drops extra columns)."""
    return grid.reshape(geo.o, nb, geo.ho, geo.wgrid)[..., :geo.wo].transpose(1, 0, 2, 3)


def _store(y: np.ndarray, n0: int, n1: int, out: np.ndarray | None, bias: np.ndarray | None,
           relu: bool | float) -> None:
    """Images n0:n1 of y = out (+ bias) (then max(., 0), capped at ``relu`` when it is a number);
    ``out=None``: they already hold out."""
    target = y[n0:n1]
    if bias is not None:
        np.add(target if out is None else out, bias.reshape(-1, 1, 1), out=target)
    elif out is not None:
        target[...] = out
    if relu is True:
        np.maximum(target, typed(0, target.dtype), out=target)
    elif relu is not False:
        np.clip(target, typed(0, target.dtype), typed(relu, target.dtype), out=target)


def _gemm_conv(x: np.ndarray, planes: np.ndarray, wmat: np.ndarray, geo: ConvGeometry,
               bias: np.ndarray | None, relu: bool | float) -> np.ndarray:
    """y (N, O, ho, wo); fills ``planes`` from x on the way. wmat is (groups, O/groups, C/groups * taps)."""
    dt = planes.dtype
    blocks = geo.blocks(dt.itemsize, threads.block_threads())
    nbmax = blocks[0][1]
    y = np.empty((geo.n, geo.o, geo.ho, geo.wo), dtype=dt)

    def work(next_block: Callable[[], tuple[int, int] | None]) -> None:
        colbuf = np.empty(geo.c * geo.ntaps * nbmax * geo.length, dtype=dt)
        gridbuf = np.empty(geo.o * nbmax * geo.length, dtype=dt)
        while (block := next_block()) is not None:
            n0, n1 = block
            nb = n1 - n0
            geo.fill_planes(x, planes, n0, n1)
            if geo.pointwise:  # one GEMM per image straight from the planes into y, no copies
                out = y[n0:n1].reshape(nb, geo.groups, geo.og, geo.length)
                np.matmul(wmat, geo.tap_view(planes, 0, n0, n1).reshape(nb, geo.groups, geo.cg, -1), out=out)
                _store(y, n0, n1, None, bias, relu)
                continue
            cols = _im2col(planes, geo, n0, n1, colbuf).reshape(geo.groups, geo.k, nb * geo.length)
            grid = gridbuf[: geo.o * nb * geo.length].reshape(geo.groups, geo.og, nb * geo.length)
            np.matmul(wmat, cols, out=grid)
            _store(y, n0, n1, _grid_to_nchw(grid, geo, nb), bias, relu)

    threads.run_blocks(work, blocks)
    return y


def _gemm_conv_grad(dy: np.ndarray, planes: np.ndarray | None, wmat: np.ndarray, geo: ConvGeometry,
                    need_dx: bool = True, need_dw: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dx, d wmat) from dy (N, O, ho, wo); either can be skipped (planes only needed for d wmat)."""
    dt = dy.dtype
    blocks = geo.blocks(dt.itemsize, threads.block_threads())
    nbmax = blocks[0][1]
    L = geo.length
    dx = np.zeros((geo.n, geo.c, geo.h, geo.w), dtype=dt) if need_dx else None
    wmat_t = wmat.transpose(0, 2, 1)
    # BLAS is faster producing the weight gradient transposed when it is taller than wide
    dw_transposed = geo.k > geo.og

    def work(next_block: Callable[[], tuple[int, int] | None]) -> np.ndarray | None:
        dwmat = None  # this worker's weight gradient: its first block's GEMM, then sums
        dwpart = None
        colbuf = np.empty(geo.c * geo.ntaps * nbmax * L, dtype=dt)
        # extra grid columns stay zero: their position modulo wgrid is the same for every block size
        gridbuf = np.zeros(geo.o * nbmax * L, dtype=dt)
        planebuf = np.empty(int(np.prod(geo.plane_shape[1:])) * nbmax, dtype=dt) if need_dx else None
        while (block := next_block()) is not None:
            n0, n1 = block
            nb = n1 - n0
            grid = gridbuf[: geo.o * nb * L].reshape(geo.groups, geo.og, nb * L)
            if need_dw or not geo.pointwise:
                _grid_to_nchw(grid, geo, nb)[...] = dy[n0:n1]
            if need_dw:
                cols = _im2col(planes, geo, n0, n1, colbuf).reshape(geo.groups, geo.k, nb * L)
                a, b = (cols, grid.transpose(0, 2, 1)) if dw_transposed else (grid, cols.transpose(0, 2, 1))
                if dwmat is None:
                    dwmat = np.matmul(a, b)
                else:
                    dwpart = np.matmul(a, b, out=dwpart)
                    dwmat += dwpart
            if need_dx:
                dplanes = geo.block_grad_planes(dx, n0, n1, planebuf)
                if geo.pointwise:  # one GEMM per image straight into the gradient planes
                    out = geo.tap_view(dplanes, 0, 0, nb).reshape(nb, geo.groups, geo.cg, L)
                    np.matmul(wmat_t, dy[n0:n1].reshape(nb, geo.groups, geo.og, L), out=out)
                else:
                    dcols = colbuf[: geo.c * geo.ntaps * nb * L].reshape(geo.groups, geo.k, nb * L)
                    np.matmul(wmat_t, grid, out=dcols)
                    _col2im(dplanes, dcols.reshape(geo.c, geo.ntaps, nb, geo.ho, geo.wgrid), geo)
                geo.planes_to_input(dplanes, dx, n0)
        return dwmat

    partial = [p for p in threads.run_blocks(work, blocks) if p is not None]
    if not need_dw:
        return dx, None
    dwmat = partial[0]
    for p in partial[1:]:
        dwmat += p
    return dx, (_transposed(dwmat) if dw_transposed else dwmat)


def _transposed(a: np.ndarray, tile: int = 128) -> np.ndarray:
    """(g, k, o) -> contiguous (g, o, k), copied in tiles of ``tile`` rows that stay in cache
    (3x faster than one strided copy for a 4608 x 512 weight gradient)."""
    out = np.empty((a.shape[0], a.shape[2], a.shape[1]), dtype=a.dtype)
    for i in range(0, a.shape[1], tile):
        out[:, :, i:i + tile] = a[:, i:i + tile].transpose(0, 2, 1)
    return out


# ----------------------------------------------------------------- depthwise path
def _dw_weight(w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """(C, O/C, taps): the per-channel filters of a depthwise weight."""
    return w.reshape(geo.c, geo.og, geo.ntaps)


def _depthwise_conv(x: np.ndarray, planes: np.ndarray, w: np.ndarray, geo: ConvGeometry,
                    bias: np.ndarray | None, relu: bool | float) -> np.ndarray:
    """y (N, O, ho, wo) for one input channel per group, by per-tap multiply-accumulate."""
    wt = _dw_weight(w, geo)[..., None, None]
    dt = planes.dtype
    y = np.empty((geo.n, geo.o, geo.ho, geo.wo), dtype=dt)

    def work(next_block: Callable[[], tuple[int, int] | None]) -> None:
        while (block := next_block()) is not None:
            n0, n1 = block
            nb = n1 - n0
            geo.fill_planes(x, planes, n0, n1)
            acc = np.zeros((nb, geo.c, geo.og, geo.ho, geo.wgrid), dtype=dt)
            for t in range(geo.ntaps):
                acc += geo.tap_view(planes, t, n0, n1)[:, :, None] * wt[:, :, t]
            _store(y, n0, n1, acc.reshape(nb, geo.o, geo.ho, geo.wgrid)[..., :geo.wo], bias, relu)

    threads.run_blocks(work, geo.blocks(dt.itemsize, threads.block_threads()))
    return y


def _depthwise_conv_grad(dy: np.ndarray, planes: np.ndarray | None, w: np.ndarray, geo: ConvGeometry,
                         need_dx: bool = True, need_dw: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dx, dw) for the depthwise path; either can be skipped (planes only needed for dw)."""
    wt = _dw_weight(w, geo)
    dt = dy.dtype
    blocks = geo.blocks(dt.itemsize, threads.block_threads())
    dx = np.zeros((geo.n, geo.c, geo.h, geo.w), dtype=dt) if need_dx else None

    def work(next_block: Callable[[], tuple[int, int] | None]) -> np.ndarray | None:
        dwt = np.zeros_like(wt) if need_dw else None
        planebuf = np.empty(int(np.prod(geo.plane_shape[1:])) * blocks[0][1], dtype=dt) if need_dx else None
        while (block := next_block()) is not None:
            n0, n1 = block
            nb = n1 - n0
            grid = np.zeros((nb, geo.o, geo.ho, geo.wgrid), dtype=dt)
            grid[..., :geo.wo] = dy[n0:n1]
            grid = grid.reshape(nb, geo.c, geo.og, geo.ho, geo.wgrid)
            dplanes = geo.block_grad_planes(dx, n0, n1, planebuf) if need_dx else None
            for t in range(geo.ntaps):
                if need_dw:
                    dwt[:, :, t] += np.einsum("ncmhw,nchw->cm", grid, geo.tap_view(planes, t, n0, n1),
                                              optimize=True)
                if need_dx:
                    target = geo.tap_view(dplanes, t, 0, nb)
                    target += np.einsum("ncmhw,cm->nchw", grid, wt[:, :, t], optimize=True)
            if need_dx:
                geo.planes_to_input(dplanes, dx, n0)
        return dwt

    partial = threads.run_blocks(work, blocks)
    return dx, (sum(partial[1:], partial[0]).reshape(w.shape) if need_dw else None)


# ------------------------------------------------------------------ dispatch
def conv_planes(x: np.ndarray, w: np.ndarray, geo: ConvGeometry, bias: np.ndarray | None,
                relu: bool | float = False) -> tuple[np.ndarray, np.ndarray]:
    """Convolution output (N, O, ho, wo) of x (N, C, H, W) (``relu``: then max(., 0), capped when a
    number, in the same pass) and the input planes it built (kept for the weight gradient); w is (O, C/groups, kh, kw)."""
    planes = geo.new_planes(x)
    if geo.depthwise:
        return _depthwise_conv(x, planes, w, geo, bias, relu), planes
    return _gemm_conv(x, planes, w.reshape(geo.groups, geo.og, geo.k), geo, bias, relu), planes


def conv_planes_grad(dy: np.ndarray, planes: np.ndarray | None, w: np.ndarray, geo: ConvGeometry,
                     need_dx: bool = True, need_dw: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dx (N, C, H, W), dw shaped like w) of :func:`conv_planes`; either can be skipped."""
    if geo.depthwise:
        return _depthwise_conv_grad(dy, planes, w, geo, need_dx, need_dw)
    dx = None
    if need_dx and _dx_as_correlation(geo):
        dx, need_dx = _correlation_dx(dy, w, geo), False
    dx2, dwmat = _gemm_conv_grad(dy, planes, w.reshape(geo.groups, geo.og, geo.k), geo, need_dx, need_dw)
    return (dx if dx2 is None else dx2), (None if dwmat is None else dwmat.reshape(w.shape))


def _dx_as_correlation(geo: ConvGeometry) -> bool:
    """Whether the input gradient is better computed as a forward convolution of dy: im2col of dy
    then one GEMM, instead of a GEMM then a col2im of kh * kw read-modify-write passes (measured
    10-35 % faster for 3x3 layers). Needs stride 1, no groups, a kernel > 1x1, padding below the
    kernel extent, the natural output size, and no more output than input channels (im2col of dy
    copies ``O * taps`` rows where col2im adds ``C * taps``; a 7x7 stem on RGB would be 15x slower)."""
    eh, ew = geo.dh * (geo.kh - 1), geo.dw * (geo.kw - 1)
    pt, pl, pb, pr = geo.pads
    return ((geo.sh, geo.sw) == (1, 1) and geo.groups == 1 and geo.ntaps > 1 and geo.o <= geo.c
            and max(pt, pb) <= eh and max(pl, pr) <= ew
            and (geo.ho, geo.wo) == (geo.h + pt + pb - eh, geo.w + pl + pr - ew))


def _correlation_dx(dy: np.ndarray, w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """dx of a stride-1 convolution: dy correlated with the flipped, channel-transposed kernel,
    padded by (dilated kernel extent - 1 - the forward padding) on each side."""
    eh, ew = geo.dh * (geo.kh - 1), geo.dw * (geo.kw - 1)
    pt, pl, pb, pr = geo.pads
    flipped = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    back = ConvGeometry(dy.shape, flipped.shape, 1, (eh - pt, ew - pl, eh - pb, ew - pr), (geo.dh, geo.dw), 1,
                        wrap=True)
    dx, _ = conv_planes(dy, flipped, back, None)
    return dx


# ------------------------------------------------------------------------ conv2d
def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: IntPair = 1,
                   padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1,
                   relu: bool | float = False) -> tuple[np.ndarray, Any]:
    """2-D cross-correlation, NCHW.

    Args:
        x: input (N, C, H, W).
        w: weight (O, C // groups, kh, kw).
        b: optional bias (O,).
        stride, dilation: int or (h, w).
        padding: int, (ph, pw) or asymmetric (top, left, bottom, right) as ONNX begin/end pads.
        groups: channel groups; ``groups == C`` is depthwise. float32 runs on oneDNN (any groups)
            when it is installed, else (and for float64) on the numpy path.
        relu: return ``max(y, 0)`` instead (a number c: ``clip(y, 0, c)``, ReLU6 for 6), applied block
            by block while the output is in cache (oneDNN: a post-op of its forward primitive) (inference
            fusion; :func:`conv2d_backward` is then the gradient of the convolution alone: mask ``dy`` with
            ``0 < y (< c)`` first).

    Returns:
        ``(y, cache)`` with y of shape (N, O, Ho, Wo),
        ``Ho = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1``.
    """
    x = as_float(x)
    if x.ndim != 4:
        raise ValueError(f"conv2d expects x of shape (N, C, H, W), got {x.shape}")
    geo = ConvGeometry(x.shape, np.shape(w), stride, padding, dilation, groups, wrap=True)
    wc = np.ascontiguousarray(w, dtype=x.dtype)
    bc = None if b is None else np.ascontiguousarray(b, dtype=x.dtype)
    dtypes = (np.asarray(w).dtype, None if b is None else np.asarray(b).dtype)
    if x.dtype == np.float32 and onednn.available():
        x = np.ascontiguousarray(x)
        try:
            y = onednn.conv2d_forward(x, wc, bc, geo, relu)
        except onednn.Unsupported:
            pass  # a geometry oneDNN does not implement: the numpy path below
        else:
            return y, ("onednn", x, wc, geo, *dtypes)
    y, planes = conv_planes(x, wc, geo, bc, relu)
    return y, ("numpy", planes, wc, geo, *dtypes)


def conv2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients (dx, dw, db) of :func:`conv2d_forward` (db is None without bias)."""
    path, saved, wc, geo, w_dtype, b_dtype = cache
    dy = np.ascontiguousarray(dy, dtype=wc.dtype)
    if path == "onednn":
        dx, dw = onednn.conv2d_backward(dy, saved, wc, geo)
    else:
        dx, dw = conv_planes_grad(dy, saved, wc, geo)
    db = None if b_dtype is None else dy.sum(axis=(0, 2, 3)).astype(b_dtype, copy=False)
    return dx, dw.astype(w_dtype, copy=False), db


# ------------------------------------------------------------------------ conv1d
def _int1(value: IntPair, what: str) -> int:
    if isinstance(value, (int, np.integer)):
        return int(value)
    vals = tuple(int(v) for v in value)
    if len(vals) != 1:
        raise ValueError(f"conv1d {what} must be an int, got {value!r}")
    return vals[0]


#: a 1-D convolution whose frame matrix (N * Lo rows of C * k) has at most this many elements is one GEMM
#: over strided frames (no layout reorders, no thread team): the STFT-as-convolution front-ends and the
#: small convolutions of voice-activity models, where oneDNN's per-call work cost 10-50x the arithmetic
CONV1D_FRAMES_MAX = 1 << 20


def conv1d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: IntPair = 1,
                   padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1) -> tuple[np.ndarray, Any]:
    """1-D cross-correlation on (N, C, L) with w (O, C // groups, k).

    ``padding`` is an int or (left, right). Returns ``(y, cache)``, y of shape (N, O, Lo).
    Small ungrouped ones are one GEMM over the input's strided frames; the others run as a
    2-D convolution of height 1.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"conv1d expects x (N, C, L) and w (O, C/groups, k), got x {x.shape} and w {w.shape}")
    left, right = pair(padding, "conv1d padding (left, right)")
    step, dil = _int1(stride, "stride"), _int1(dilation, "dilation")
    n, c, length = x.shape
    o, cg, k = w.shape
    out_len = (length + left + right - dil * (k - 1) - 1) // step + 1
    if groups == 1 and cg == c and out_len > 0 and n * out_len * c * k <= CONV1D_FRAMES_MAX:
        return _conv1d_frames(as_float(x), w, b, left, right, step, dil, out_len)
    y, cache = conv2d_forward(x[:, :, None, :], w[:, :, None, :], b, stride=(1, step),
                              padding=(0, left, 0, right), dilation=(1, dil), groups=groups)
    return y[:, :, 0, :], ("conv2d", cache)


def _conv1d_frames(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, left: int, right: int, step: int, dil: int,
                   out_len: int) -> tuple[np.ndarray, Any]:
    """``(N * Lo, C * k) @ (C * k, O)``: the frames are strided views of the padded input, copied once."""
    n, c, length = x.shape
    o, _, k = w.shape
    padded = np.pad(x, ((0, 0), (0, 0), (left, right))) if left or right else x
    span = dil * (k - 1) + 1
    windows = np.lib.stride_tricks.sliding_window_view(padded, span, axis=2)[:, :, ::step][:, :, :out_len, ::dil]
    cols = np.ascontiguousarray(windows.transpose(0, 2, 1, 3)).reshape(n * out_len, c * k)
    wmat = w.reshape(o, c * k).astype(x.dtype, copy=False)
    y = matmul(cols, wmat.T).reshape(n, out_len, o).transpose(0, 2, 1)
    if b is not None:
        y = y + np.asarray(b, x.dtype).reshape(1, -1, 1)
    else:
        y = np.ascontiguousarray(y)
    return y, ("frames", cols, wmat, (n, c, length), (left, step, dil, k, out_len), w.dtype,
               None if b is None else np.asarray(b).dtype)


def conv1d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients (dx, dw, db) of :func:`conv1d_forward`."""
    if cache[0] == "conv2d":
        dx, dw, db = conv2d_backward(np.asarray(dy)[:, :, None, :], cache[1])
        return dx[:, :, 0, :], dw[:, :, 0, :], db
    _, cols, wmat, (n, c, length), (left, step, dil, k, out_len), w_dtype, b_dtype = cache
    rows = np.ascontiguousarray(np.asarray(dy, cols.dtype).transpose(0, 2, 1)).reshape(n * out_len, -1)
    dw = matmul(rows.T, cols).reshape(-1, c, k)
    dcols = matmul(rows, wmat).reshape(n, out_len, c, k)
    dpadded = np.zeros((n, c, left + length + step * (out_len - 1) + dil * (k - 1) + 1), cols.dtype)
    last = step * (out_len - 1) + 1
    for tap in range(k):  # each tap's gradient lands on a strided run of the padded input
        dpadded[:, :, tap * dil:tap * dil + last:step] += dcols[:, :, :, tap].transpose(0, 2, 1)
    db = None if b_dtype is None else np.asarray(dy).sum(axis=(0, 2)).astype(b_dtype, copy=False)
    return dpadded[:, :, left:left + length], dw.astype(w_dtype, copy=False), db
