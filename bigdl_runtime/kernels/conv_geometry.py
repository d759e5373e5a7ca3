"""Convolution geometry shared by conv and conv_transpose: argument parsing, output
sizes, the zero-padded input's polyphase planes, tap offsets and batch blocking
(see :mod:`.conv` for how the kernels use them).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

IntPair = int | Sequence[int]

#: Target size of one im2col block (bytes); the batch is processed in blocks of this size...
BLOCK_BYTES = 4 << 20
#: ...unless that makes the GEMMs narrower than this many columns (small images)...
MIN_GEMM_COLUMNS = 512
#: ...or the weight is large: blocks then hold at least this many times the weight's bytes of
#: columns, so that BLAS re-packs the weight fewer times and the weight gradient is summed
#: over fewer partial products (ResNet-18's 256- and 512-channel layers: 10-15 % faster).
WEIGHT_REUSE = 4


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
                 out_size: tuple[int, int] | None = None, wrap: bool = False) -> None:
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
        #: ``wph`` wide (``oj_max`` wasted columns); used when that waste is <= 4 %.
        wide = oj_max * 25 <= self.wo
        #: wrapped layout, for narrower outputs of ``wrap=True`` callers (GEMM convolutions, which
        #: zero the :attr:`wrapped_columns` of every tap themselves): stride 1 with "same" width
        #: (``pl + pr`` is the kernel's width extent), so the plane is the unpadded rows between
        #: zero rows and a tap's input for all pixels is again one contiguous run, of ``ho * w``
        #: values, with no wasted columns; the few values a shifted run takes from the
        #: neighbouring row are zeroed (measured 7-25 % faster than exact windows on 7-28 pixel
        #: wide ResNet layers). Otherwise taps read exact (ho, wo) windows.
        depthwise = self.cg == 1 and g > 1
        ew = dw * (self.kw - 1)
        self.wrapped = (wrap and not wide and not depthwise and (sh, sw) == (1, 1) and len(cols) > 1
                        and pl + pr == ew and max(pl, pr) <= self.w)
        self.flat = wide or self.wrapped
        self.wph = self.w if self.wrapped else self.wo + oj_max
        if self.wrapped:  # a zero row above and below the padded rows takes the runs' overhang
            self.hph = self.h + pt + pb + 2
        else:
            self.hph = self.ho + oi_max + (1 if self.flat and oj_max else 0)  # slack row for the last run
        self.wgrid = self.wph if self.flat else self.wo
        self.length = self.ho * self.wgrid  # pixels per image on the computation grid
        self.phases = sorted({(pi, pj) for pi, _ in rows for pj, _ in cols})
        index = {ph: k for k, ph in enumerate(self.phases)}
        #: (plane index, row offset, column offset) of every tap, in (i, j) order
        self.taps = [(index[(pi, pj)], oi, oj) for pi, oi in rows for pj, oj in cols]
        self.ntaps = len(self.taps)
        self.k = self.cg * self.ntaps  # GEMM inner size per group
        #: where each tap's run starts in a flattened plane (flat and wrapped layouts)
        self.offsets = [(oi + 1) * self.w + oj - pl if self.wrapped else oi * self.wph + oj
                        for _, oi, oj in self.taps]
        #: output columns whose value a tap's run takes from the neighbouring row (wrapped
        #: layout; None where there are none): they must read the padding, i.e. zero
        self.wrapped_columns = [None if not self.wrapped or oj == pl else
                                slice(0, pl - oj) if oj < pl else slice(self.w - (oj - pl), self.w)
                                for _, _, oj in self.taps]

    # ----------------------------------------------------------- polyphase planes
    def _plane_slices(self, pi: int, pj: int) -> tuple[slice, slice, slice, slice] | None:
        """(rows, cols) of the plane and (rows, cols) of x that land there, or None if empty."""
        pt, pl = self.pads[0], self.pads[1]
        if self.wrapped:
            return slice(pt + 1, pt + 1 + self.h), slice(0, self.w), slice(0, self.h), slice(0, self.w)
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

    def new_planes(self, x: np.ndarray) -> np.ndarray:
        """Zeroed planes (N, C, planes, hph, wph) for x (zero is the padding), to be filled block
        by block with :meth:`fill_planes`; x itself (a view) when stride and padding change nothing."""
        if self._is_identity():
            return np.ascontiguousarray(x).reshape(self.n, self.c, 1, self.h, self.w)
        return np.zeros(self.plane_shape, dtype=x.dtype)

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
        off = self.offsets[t]
        return flat[n0:n1, :, p, off:off + self.length].reshape(n1 - n0, self.c, self.ho, self.wph)

    # ------------------------------------------------------------------ blocking
    def blocks(self, itemsize: int, workers: int = 1) -> list[tuple[int, int]]:
        """Batch blocks (n0, n1): im2col columns of about BLOCK_BYTES (or WEIGHT_REUSE times the
        weight's bytes when that is more), GEMMs at least MIN_GEMM_COLUMNS wide, and at least two
        blocks per worker (one when the weight sets the size), so a stalled worker is covered."""
        per_image = max(1, self.c * self.ntaps * self.length * itemsize)
        weight_bytes = WEIGHT_REUSE * self.o * self.k * itemsize
        nb = max(max(BLOCK_BYTES, weight_bytes) // per_image, -(-MIN_GEMM_COLUMNS // self.length))
        per_worker = 1 if weight_bytes > BLOCK_BYTES else 2
        nb = max(1, min(nb, -(-self.n // (per_worker * workers)) if workers > 1 else self.n))
        # equal blocks, as many as a multiple of the workers: 32 images in blocks of at most 5
        # become 8 blocks of 4 (4 per worker), not 7 of which one worker would get 4
        count = -(-self.n // nb)
        count = min(self.n, -(-count // workers) * workers)
        size, extra = divmod(self.n, count)
        bounds = np.cumsum([0] + [size + 1] * extra + [size] * (count - extra))  # the first block is the largest
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]

    @property
    def pointwise(self) -> bool:
        """A single tap reading whole planes (1x1 kernels): GEMMs need no im2col copy."""
        return self.ntaps == 1 and (self.hph, self.wph) == (self.ho, self.wo)

    @property
    def depthwise(self) -> bool:
        """One input channel per group: handled by per-tap multiply-accumulate, not GEMM."""
        return self.cg == 1 and self.groups > 1
