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
4. Blocks are spread over as many threads as numpy's BLAS has, with BLAS at one thread
   meanwhile: the copies run in parallel too, and on a loaded machine no multi-threaded GEMM
   waits for a descheduled helper thread (2-thread OpenBLAS on a busy 2-core machine runs
   several times slower than 1 thread). ``PARALLEL_BLOCKS = False`` leaves threading to BLAS.

``conv1d`` is ``conv2d`` on a height-1 image; :mod:`.conv_transpose` reuses the geometry.
"""
from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

IntPair = int | Sequence[int]

#: Target size of one im2col block (bytes); the batch is processed in blocks of this size...
BLOCK_BYTES = 4 << 20
#: ...unless that makes the GEMMs narrower than this many columns (small images).
MIN_GEMM_COLUMNS = 512
#: Process batch blocks on as many threads as numpy's BLAS has (BLAS single-threaded meanwhile);
#: False leaves all threading to BLAS.
PARALLEL_BLOCKS = True


def as_float(x: Any) -> np.ndarray:
    """``x`` as an array, floating inputs kept as they are and anything else made float32."""
    x = np.asarray(x)
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def pair(value: IntPair, what: str) -> tuple[int, int]:
    """``value`` as an (h, w) pair of ints (an int applies to both)."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    vals = tuple(int(v) for v in value)
    if len(vals) != 2:
        raise ValueError(f"{what} must be an int or a pair, got {value!r}")
    return vals


def pads4(padding: IntPair) -> tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right) from an int, (ph, pw) or the 4-tuple itself."""
    if isinstance(padding, (int, np.integer)):
        p = int(padding)
        pads = (p, p, p, p)
    else:
        vals = tuple(int(v) for v in padding)
        if len(vals) == 2:
            pads = (vals[0], vals[1], vals[0], vals[1])
        elif len(vals) == 4:
            pads = vals
        else:
            raise ValueError(f"padding must be an int, (ph, pw) or (top, left, bottom, right), got {padding!r}")
    if min(pads) < 0:
        raise ValueError(f"padding must be non-negative, got {padding!r}")
    return pads


class ConvGeometry:
    """Shapes, polyphase planes and tap offsets of one 2-D convolution.

    ``x_shape`` is the convolution's input ``(N, C, H, W)``, ``w_shape`` its weight
    ``(O, C // groups, kh, kw)``. Used by conv2d and (with the roles of input and output
    swapped) by conv_transpose2d, which may ask for ``out_size`` smaller than the natural
    output (its output_padding can leave trailing rows that no output reads).
    """

    def __init__(self, x_shape: Sequence[int], w_shape: Sequence[int], stride: IntPair,
                 padding: IntPair, dilation: IntPair, groups: int,
                 out_size: tuple[int, int] | None = None) -> None:
        if len(x_shape) != 4 or len(w_shape) != 4:
            raise ValueError(f"conv2d expects x (N, C, H, W) and w (O, C/groups, kh, kw), "
                             f"got x {tuple(x_shape)} and w {tuple(w_shape)}")
        self.n, self.c, self.h, self.w = (int(v) for v in x_shape)
        self.o, self.cg, self.kh, self.kw = (int(v) for v in w_shape)
        self.groups = g = int(groups)
        if g < 1 or self.c % g or self.o % g or self.cg * g != self.c:
            raise ValueError(f"conv2d: input has {self.c} channels, weight {tuple(w_shape)} with "
                             f"groups={g} expects {self.cg * g} (and out channels divisible by groups)")
        self.og = self.o // g
        self.sh, self.sw = sh, sw = pair(stride, "stride")
        self.dh, self.dw = dh, dw = pair(dilation, "dilation")
        self.pads = pt, pl, pb, pr = pads4(padding)
        if min(sh, sw, dh, dw) < 1:
            raise ValueError(f"conv2d: stride and dilation must be >= 1, got {stride!r}, {dilation!r}")
        self.ho = (self.h + pt + pb - dh * (self.kh - 1) - 1) // sh + 1
        self.wo = (self.w + pl + pr - dw * (self.kw - 1) - 1) // sw + 1
        if out_size is not None and 1 <= out_size[0] <= self.ho and 1 <= out_size[1] <= self.wo:
            self.ho, self.wo = out_size
        elif out_size is not None:
            raise ValueError(f"conv2d: output size {out_size} does not fit {(self.ho, self.wo)}")
        if self.ho < 1 or self.wo < 1:
            raise ValueError(f"conv2d: kernel {(self.kh, self.kw)} (dilation {(dh, dw)}) does not fit the "
                             f"padded input {(self.h + pt + pb, self.w + pl + pr)}")
        rows = [((i * dh) % sh, (i * dh) // sh) for i in range(self.kh)]
        cols = [((j * dw) % sw, (j * dw) // sw) for j in range(self.kw)]
        oi_max = max(o for _, o in rows)
        oj_max = max(o for _, o in cols)
        #: flat layout: every tap reads one contiguous run of a plane and the output grid is
        #: ``wph`` wide (``oj_max`` wasted columns); used when that waste is <= 4 %. Otherwise
        #: taps read exact (ho, wo) windows (shorter copies, no wasted GEMM columns).
        self.flat = oj_max * 25 <= self.wo
        self.wph = self.wo + oj_max
        self.hph = self.ho + oi_max + (1 if self.flat and oj_max else 0)  # slack row for the last run
        self.wgrid = self.wph if self.flat else self.wo
        self.length = self.ho * self.wgrid  # pixels per image on the computation grid
        self.phases = sorted({(pi, pj) for pi, _ in rows for pj, _ in cols})
        index = {ph: k for k, ph in enumerate(self.phases)}
        #: (plane index, row offset, column offset) of every tap, in (i, j) order
        self.taps = [(index[(pi, pj)], oi, oj) for pi, oi in rows for pj, oj in cols]
        self.ntaps = len(self.taps)
        self.k = self.cg * self.ntaps  # GEMM inner size per group

    # ----------------------------------------------------------- polyphase planes
    def _plane_slices(self, pi: int, pj: int) -> tuple[slice, slice, slice, slice] | None:
        """(rows, cols) of the plane and (rows, cols) of x that land there, or None if empty."""
        pt, pl = self.pads[0], self.pads[1]
        r0 = max(0, -(-(pt - pi) // self.sh))
        q0 = max(0, -(-(pl - pj) // self.sw))
        h0 = r0 * self.sh + pi - pt
        w0 = q0 * self.sw + pj - pl
        if h0 >= self.h or w0 >= self.w or r0 >= self.hph or q0 >= self.wph:
            return None
        rc = min(self.hph - r0, -(-(self.h - h0) // self.sh))
        qc = min(self.wph - q0, -(-(self.w - w0) // self.sw))
        return (slice(r0, r0 + rc), slice(q0, q0 + qc),
                slice(h0, h0 + (rc - 1) * self.sh + 1, self.sh), slice(w0, w0 + (qc - 1) * self.sw + 1, self.sw))

    @property
    def plane_shape(self) -> tuple[int, int, int, int, int]:
        return self.n, self.c, len(self.phases), self.hph, self.wph

    def _is_identity(self) -> bool:
        return (len(self.phases) == 1 and self.sh == self.sw == 1 and not any(self.pads)
                and (self.hph, self.wph) == (self.h, self.w))

    def new_planes(self, x: np.ndarray, fill: Any = 0) -> np.ndarray:
        """Planes (N, C, planes, hph, wph) for x holding ``fill`` (the padding value), to be
        filled block by block with :meth:`fill_planes`; x itself (a view) when stride and
        padding change nothing."""
        if self._is_identity():
            return np.ascontiguousarray(x).reshape(self.n, self.c, 1, self.h, self.w)
        return np.full(self.plane_shape, fill, dtype=x.dtype)

    def fill_planes(self, x: np.ndarray, planes: np.ndarray, n0: int, n1: int) -> None:
        """Copy images n0:n1 of x (N, C, H, W) into their (padded, polyphase) planes."""
        if self._is_identity():
            return
        for k, (pi, pj) in enumerate(self.phases):
            sl = self._plane_slices(pi, pj)
            if sl is not None:
                planes[n0:n1, :, k, sl[0], sl[1]] = x[n0:n1, :, sl[2], sl[3]]

    def block_grad_planes(self, dx: np.ndarray, n0: int, n1: int, buf: np.ndarray) -> np.ndarray:
        """Zeroed gradient planes for images n0:n1: a view of ``dx`` itself for the identity
        layout, else of the flat scratch ``buf``, later copied out by :meth:`planes_to_input`."""
        if self._is_identity():
            return dx[n0:n1].reshape(n1 - n0, self.c, 1, self.h, self.w)
        shape = (n1 - n0, *self.plane_shape[1:])
        planes = buf[: int(np.prod(shape))].reshape(shape)
        planes.fill(0)
        return planes

    def planes_to_input(self, planes: np.ndarray, dx: np.ndarray, n0: int) -> None:
        """Copy gradient planes of images n0:n0+nb back to dx (N, C, H, W); pixels no tap
        reads keep dx's zeros."""
        if self._is_identity():
            return
        n1 = n0 + planes.shape[0]
        for k, (pi, pj) in enumerate(self.phases):
            sl = self._plane_slices(pi, pj)
            if sl is not None:
                dx[n0:n1, :, sl[2], sl[3]] = planes[:, :, k, sl[0], sl[1]]

    def tap_view(self, planes: np.ndarray, t: int, n0: int, n1: int) -> np.ndarray:
        """What tap ``t`` reads for images n0:n1, a (nb, C, ho, wgrid) view of the planes."""
        p, oi, oj = self.taps[t]
        if not self.flat:
            return planes[n0:n1, :, p, oi:oi + self.ho, oj:oj + self.wo]
        flat = planes.reshape(planes.shape[0], self.c, len(self.phases), self.hph * self.wph)
        off = oi * self.wph + oj
        return flat[n0:n1, :, p, off:off + self.length].reshape(n1 - n0, self.c, self.ho, self.wph)

    # ------------------------------------------------------------------ blocking
    def blocks(self, itemsize: int, workers: int = 1) -> list[tuple[int, int]]:
        """Batch blocks (n0, n1): im2col columns of about BLOCK_BYTES, but GEMMs at least
        MIN_GEMM_COLUMNS wide, and at least two blocks per worker."""
        per_image = max(1, self.c * self.ntaps * self.length * itemsize)
        nb = max(BLOCK_BYTES // per_image, -(-MIN_GEMM_COLUMNS // self.length))
        nb = max(1, min(nb, -(-self.n // (2 * workers)) if workers > 1 else self.n))
        return [(n0, min(self.n, n0 + nb)) for n0 in range(0, self.n, nb)]

    @property
    def pointwise(self) -> bool:
        """A single tap reading whole planes (1x1 kernels): GEMMs need no im2col copy."""
        return self.ntaps == 1 and (self.hph, self.wph) == (self.ho, self.wo)

    @property
    def depthwise(self) -> bool:
        """One input channel per group: handled by per-tap multiply-accumulate, not GEMM."""
        return self.cg == 1 and self.groups > 1


# ----------------------------------------------------------------- block threads
class _BlasThreads:
    """Read and set the thread count of the OpenBLAS that numpy loaded (no-op where not found)."""

    def __init__(self) -> None:
        self.get: Callable[[], int] | None = None
        self.set: Callable[[int], None] | None = None
        try:
            with open("/proc/self/maps") as maps:
                paths = sorted({line.split()[-1] for line in maps if "openblas" in line.lower()})
        except OSError:
            return
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
                get = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                put = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if get is not None and put is not None:
                    put.argtypes = [ctypes.c_int]
                    self.get, self.set = get, put
                    return


_blas = _BlasThreads()
_state_lock = threading.Lock()
_state = {"active": 0, "saved": 1, "pool": None, "pool_key": None}


def block_threads() -> int:
    """Worker threads for batch blocks: numpy's BLAS thread count (1 if it cannot be controlled)."""
    if not PARALLEL_BLOCKS or _blas.get is None:
        return 1
    with _state_lock:
        return int(_state["saved"] if _state["active"] else _blas.get())


@contextmanager
def _single_threaded_blas() -> Iterator[None]:
    """BLAS at one thread while block workers run (reference-counted across callers)."""
    if _blas.set is None:
        yield
        return
    with _state_lock:
        if _state["active"] == 0:
            _state["saved"] = int(_blas.get())
            _blas.set(1)
        _state["active"] += 1
    try:
        yield
    finally:
        with _state_lock:
            _state["active"] -= 1
            if _state["active"] == 0:
                _blas.set(_state["saved"])


def _pool(workers: int) -> ThreadPoolExecutor:
    """The shared worker pool, rebuilt after a fork (the child has no threads) or to grow."""
    with _state_lock:
        pid, size = _state["pool_key"] or (None, 0)
        if pid != os.getpid() or size < workers:
            if pid == os.getpid():
                _state["pool"].shutdown(wait=False)
            _state["pool"] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="conv-block")
            _state["pool_key"] = (os.getpid(), workers)
        return _state["pool"]


def _run_blocks(work: Callable[[Callable[[], tuple[int, int] | None]], Any],
                blocks: list[tuple[int, int]]) -> list[Any]:
    """Run ``work(next_block)`` on the block workers; each pulls (n0, n1) until None.

    With several workers BLAS runs single-threaded inside each, so the copies between GEMMs
    are parallel too and a loaded machine does not stall a multi-threaded GEMM.
    """
    workers = min(block_threads(), len(blocks))
    pending = iter(blocks)
    lock = threading.Lock()

    def next_block() -> tuple[int, int] | None:
        with lock:
            return next(pending, None)

    if workers <= 1:
        return [work(next_block)]
    with _single_threaded_blas():
        futures = [_pool(workers).submit(work, next_block) for _ in range(workers)]
        return [f.result() for f in futures]


#: Elementwise work below this many elements stays on the calling thread (dispatch costs more).
PARALLEL_MIN_ELEMENTS = 1 << 18


def parallel_batches(fn: Callable[[int, int], Any], n: int, elements: int) -> list[Any]:
    """``fn(n0, n1)`` over contiguous ranges covering ``0..n`` of a batch axis, in range order.

    The ranges run on the block workers (as many as numpy's BLAS has threads) when the work
    touches at least ``PARALLEL_MIN_ELEMENTS`` elements; numpy releases the GIL inside its
    loops, so memory-bound passes (batch norm, ReLU) use every core as the GEMMs do.

    Args:
        fn: work on one range; returns a partial result (e.g. per-channel sums) or None.
        n: length of the batch axis.
        elements: total elements the work touches (decides whether threads pay off).

    Returns:
        the results of ``fn`` per range, in order.
    """
    workers = min(block_threads(), n) if elements >= PARALLEL_MIN_ELEMENTS else 1
    if workers <= 1:
        return [fn(0, n)]
    bounds = [n * k // workers for k in range(workers + 1)]
    blocks = list(zip(bounds[:-1], bounds[1:]))
    results: dict[tuple[int, int], Any] = {}

    def work(next_block: Callable[[], tuple[int, int] | None]) -> None:
        while (block := next_block()) is not None:
            results[block] = fn(*block)

    _run_blocks(work, blocks)
    return [results[b] for b in blocks]


# ---------------------------------------------------------------------- GEMM path
def _im2col(planes: np.ndarray, geo: ConvGeometry, n0: int, n1: int, buf: np.ndarray) -> np.ndarray:
    """Columns of images n0:n1 as (C, taps, nb, ho, wgrid), written into the flat ``buf``."""
    nb = n1 - n0
    cols = buf[: geo.c * geo.ntaps * nb * geo.length].reshape(geo.c, geo.ntaps, nb, geo.ho, geo.wgrid)
    for t in range(geo.ntaps):
        cols[:, t] = geo.tap_view(planes, t, n0, n1).transpose(1, 0, 2, 3)
    return cols


def _col2im(dplanes: np.ndarray, dcols: np.ndarray, geo: ConvGeometry) -> None:
    """Add (C, taps, nb, ho, wgrid) column gradients into the gradient planes of those nb images."""
    for t in range(geo.ntaps):
        target = geo.tap_view(dplanes, t, 0, dplanes.shape[0]).transpose(1, 0, 2, 3)
        target += dcols[:, t]


def _grid_to_nchw(grid: np.ndarray, geo: ConvGeometry, nb: int) -> np.ndarray:
    """(O, nb * ho * wgrid) computation grid -> (nb, O, ho, wo) view (drops extra columns)."""
    return grid.reshape(geo.o, nb, geo.ho, geo.wgrid)[..., :geo.wo].transpose(1, 0, 2, 3)


def _store(y: np.ndarray, n0: int, n1: int, out: np.ndarray, bias: np.ndarray | None) -> None:
    if bias is None:
        y[n0:n1] = out
    else:
        np.add(out, bias.reshape(-1, 1, 1), out=y[n0:n1])


def _gemm_conv(x: np.ndarray, planes: np.ndarray, wmat: np.ndarray, geo: ConvGeometry,
               bias: np.ndarray | None) -> np.ndarray:
    """y (N, O, ho, wo); fills ``planes`` from x on the way. wmat is (groups, O/groups, C/groups * taps)."""
    dt = planes.dtype
    blocks = geo.blocks(dt.itemsize, block_threads())
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
                if bias is not None:
                    y[n0:n1] += bias.reshape(-1, 1, 1)
                continue
            cols = _im2col(planes, geo, n0, n1, colbuf).reshape(geo.groups, geo.k, nb * geo.length)
            grid = gridbuf[: geo.o * nb * geo.length].reshape(geo.groups, geo.og, nb * geo.length)
            np.matmul(wmat, cols, out=grid)
            _store(y, n0, n1, _grid_to_nchw(grid, geo, nb), bias)

    _run_blocks(work, blocks)
    return y


def _gemm_conv_grad(dy: np.ndarray, planes: np.ndarray | None, wmat: np.ndarray, geo: ConvGeometry,
                    need_dx: bool = True, need_dw: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dx, d wmat) from dy (N, O, ho, wo); either can be skipped (planes only needed for d wmat)."""
    dt = dy.dtype
    blocks = geo.blocks(dt.itemsize, block_threads())
    nbmax = blocks[0][1]
    L = geo.length
    dx = np.zeros((geo.n, geo.c, geo.h, geo.w), dtype=dt) if need_dx else None
    wmat_t = wmat.transpose(0, 2, 1)
    # BLAS is faster producing the weight gradient transposed when it is taller than wide
    dw_transposed = geo.k > geo.og

    def work(next_block: Callable[[], tuple[int, int] | None]) -> np.ndarray | None:
        dwmat = np.zeros_like(wmat_t if dw_transposed else wmat) if need_dw else None
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
                if dw_transposed:
                    dwmat += np.matmul(cols, grid.transpose(0, 2, 1))
                else:
                    dwmat += np.matmul(grid, cols.transpose(0, 2, 1))
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

    partial = _run_blocks(work, blocks)
    if not need_dw:
        return dx, None
    dwmat = sum(partial[1:], partial[0])
    return dx, (np.ascontiguousarray(dwmat.transpose(0, 2, 1)) if dw_transposed else dwmat)


# ----------------------------------------------------------------- depthwise path
def _dw_weight(w: np.ndarray, geo: ConvGeometry) -> np.ndarray:
    """(C, O/C, taps): the per-channel filters of a depthwise weight."""
    return w.reshape(geo.c, geo.og, geo.ntaps)


def _depthwise_conv(x: np.ndarray, planes: np.ndarray, w: np.ndarray, geo: ConvGeometry,
                    bias: np.ndarray | None) -> np.ndarray:
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
            _store(y, n0, n1, acc.reshape(nb, geo.o, geo.ho, geo.wgrid)[..., :geo.wo], bias)

    _run_blocks(work, geo.blocks(dt.itemsize, block_threads()))
    return y


def _depthwise_conv_grad(dy: np.ndarray, planes: np.ndarray | None, w: np.ndarray, geo: ConvGeometry,
                         need_dx: bool = True, need_dw: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dx, dw) for the depthwise path; either can be skipped (planes only needed for dw)."""
    wt = _dw_weight(w, geo)
    dt = dy.dtype
    blocks = geo.blocks(dt.itemsize, block_threads())
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

    partial = _run_blocks(work, blocks)
    return dx, (sum(partial[1:], partial[0]).reshape(w.shape) if need_dw else None)


# ------------------------------------------------------------------ dispatch
def conv_planes(x: np.ndarray, w: np.ndarray, geo: ConvGeometry,
                bias: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Convolution output (N, O, ho, wo) of x (N, C, H, W) and the input planes it built
    (kept for the weight gradient); w is (O, C/groups, kh, kw)."""
    planes = geo.new_planes(x)
    if geo.depthwise:
        return _depthwise_conv(x, planes, w, geo, bias), planes
    return _gemm_conv(x, planes, w.reshape(geo.groups, geo.og, geo.k), geo, bias), planes


def conv_planes_grad(dy: np.ndarray, planes: np.ndarray | None, w: np.ndarray, geo: ConvGeometry,
                     need_dx: bool = True, need_dw: bool = True) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dx (N, C, H, W), dw shaped like w) of :func:`conv_planes`; either can be skipped."""
    if geo.depthwise:
        return _depthwise_conv_grad(dy, planes, w, geo, need_dx, need_dw)
    dx, dwmat = _gemm_conv_grad(dy, planes, w.reshape(geo.groups, geo.og, geo.k), geo, need_dx, need_dw)
    return dx, (None if dwmat is None else dwmat.reshape(w.shape))


# ------------------------------------------------------------------------ conv2d
def conv2d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: IntPair = 1,
                   padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1) -> tuple[np.ndarray, Any]:
    """2-D cross-correlation, NCHW.

    Args:
        x: input (N, C, H, W).
        w: weight (O, C // groups, kh, kw).
        b: optional bias (O,).
        stride, dilation: int or (h, w).
        padding: int, (ph, pw) or asymmetric (top, left, bottom, right) as ONNX begin/end pads.
        groups: channel groups; ``groups == C`` is depthwise.

    Returns:
        ``(y, cache)`` with y of shape (N, O, Ho, Wo),
        ``Ho = (H + top + bottom - dh * (kh - 1) - 1) // sh + 1``.
    """
    x = as_float(x)
    if x.ndim != 4:
        raise ValueError(f"conv2d expects x of shape (N, C, H, W), got {x.shape}")
    geo = ConvGeometry(x.shape, np.shape(w), stride, padding, dilation, groups)
    wc = np.ascontiguousarray(w, dtype=x.dtype)
    bc = None if b is None else np.asarray(b, dtype=x.dtype)
    y, planes = conv_planes(x, wc, geo, bc)
    return y, (planes, wc, geo, np.asarray(w).dtype, None if b is None else np.asarray(b).dtype)


def conv2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients (dx, dw, db) of :func:`conv2d_forward` (db is None without bias)."""
    planes, wc, geo, w_dtype, b_dtype = cache
    dy = np.ascontiguousarray(dy, dtype=planes.dtype)
    dx, dw = conv_planes_grad(dy, planes, wc, geo)
    db = None if b_dtype is None else dy.sum(axis=(0, 2, 3)).astype(b_dtype, copy=False)
    return dx, dw.astype(w_dtype, copy=False), db


# ------------------------------------------------------------------------ conv1d
def _pads1(padding: IntPair) -> tuple[int, int]:
    if isinstance(padding, (int, np.integer)):
        return int(padding), int(padding)
    vals = tuple(int(v) for v in padding)
    if len(vals) != 2:
        raise ValueError(f"conv1d padding must be an int or (left, right), got {padding!r}")
    return vals


def _int1(value: IntPair, what: str) -> int:
    if isinstance(value, (int, np.integer)):
        return int(value)
    vals = tuple(int(v) for v in value)
    if len(vals) != 1:
        raise ValueError(f"conv1d {what} must be an int, got {value!r}")
    return vals[0]


def conv1d_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, stride: IntPair = 1,
                   padding: IntPair = 0, dilation: IntPair = 1, groups: int = 1) -> tuple[np.ndarray, Any]:
    """1-D cross-correlation on (N, C, L) with w (O, C // groups, k).

    ``padding`` is an int or (left, right). Returns ``(y, cache)``, y of shape (N, O, Lo).
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"conv1d expects x (N, C, L) and w (O, C/groups, k), got x {x.shape} and w {w.shape}")
    left, right = _pads1(padding)
    y, cache = conv2d_forward(x[:, :, None, :], w[:, :, None, :], b, stride=(1, _int1(stride, "stride")),
                              padding=(0, left, 0, right), dilation=(1, _int1(dilation, "dilation")),
                              groups=groups)
    return y[:, :, 0, :], cache


def conv1d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gradients (dx, dw, db) of :func:`conv1d_forward`."""
    dx, dw, db = conv2d_backward(np.asarray(dy)[:, :, None, :], cache)
    return dx[:, :, 0, :], dw[:, :, 0, :], db
