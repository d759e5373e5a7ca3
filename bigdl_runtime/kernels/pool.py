"""2-D pooling kernels (NCHW): max, average, global and adaptive average.

Geometry follows PyTorch and ONNX: ``padding`` is an int, ``(ph, pw)`` or the
asymmetric ``(top, left, bottom, right)``; the output size is
``floor_or_ceil((H + top + bottom - dilation * (k - 1) - 1) / stride) + 1`` and, in
ceil mode, a last window that would start past the input and its top/left
padding is dropped. The work loops over the kernel taps only, each tap being one
array operation over all batches, channels and output pixels: max pooling is
separable (rows, then columns) in the forward pass and finds each window's winner
on the input's column phases in the backward pass; average pooling uses strided window views
of the padded input.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .threads import parallel_batches

IntPair = int | Sequence[int]


def _pair(value: IntPair, what: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        pair = (int(value), int(value))
    else:
        pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"pool: {what} must be a positive int or pair, got {value!r}")
    return pair


def _pads(padding: IntPair) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from an int, (ph, pw) or (top, left, bottom, right)."""
    if isinstance(padding, (int, np.integer)):
        pads = (int(padding),) * 4
    else:
        pads = tuple(int(p) for p in padding)
        if len(pads) == 2:
            pads = pads * 2
    if len(pads) != 4 or min(pads) < 0:
        raise ValueError(f"pool: padding must be an int, (ph, pw) or (top, left, bottom, right) >= 0, got {padding!r}")
    return pads


def _out_size(size: int, k: int, s: int, d: int, lo: int, hi: int, ceil_mode: bool) -> int:
    room = size + lo + hi - d * (k - 1) - 1
    if room < 0:
        raise ValueError(f"pool: window of {k} (dilation {d}) does not fit input of {size} with padding {lo}+{hi}")
    out = (-(-room // s) if ceil_mode else room // s) + 1
    if ceil_mode and (out - 1) * s >= size + lo:
        out -= 1
    return out


def _geometry(shape: tuple[int, ...], kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
              dilation: IntPair, ceil_mode: bool) -> dict[str, Any]:
    if len(shape) != 4:
        raise ValueError(f"pool: expected input (N, C, H, W), got shape {tuple(shape)}")
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    d = _pair(dilation, "dilation")
    top, left, bottom, right = _pads(padding)
    h, w = shape[2:]
    out = (_out_size(h, k[0], s[0], d[0], top, bottom, ceil_mode),
           _out_size(w, k[1], s[1], d[1], left, right, ceil_mode))
    # the padded extent the windows actually read (ceil mode may read past the explicit padding)
    need = ((out[0] - 1) * s[0] + d[0] * (k[0] - 1) + 1, (out[1] - 1) * s[1] + d[1] * (k[1] - 1) + 1)
    pad_width = ((0, 0), (0, 0), (top, max(0, need[0] - h - top)), (left, max(0, need[1] - w - left)))
    return {"k": k, "s": s, "d": d, "out": out, "pads": (top, left, bottom, right), "pad_width": pad_width}


def _pad(x: np.ndarray, geo: dict[str, Any], value: float) -> np.ndarray:
    if not any(a or b for a, b in geo["pad_width"]):
        return x
    (pt, pb), (pl, pr) = geo["pad_width"][2:]
    n, c, h, w = x.shape
    xp = np.empty((n, c, h + pt + pb, w + pl + pr), dtype=x.dtype)  # np.pad measured 3x slower
    xp[:, :, :pt] = value
    xp[:, :, pt + h:] = value
    xp[:, :, pt:pt + h, :pl] = value
    xp[:, :, pt:pt + h, pl + w:] = value
    xp[:, :, pt:pt + h, pl:pl + w] = x
    return xp


def _windows(xp: np.ndarray, geo: dict[str, Any]) -> np.ndarray:
    """Strided view ``(..., oh, ow, kh, kw)`` of the padded array's pooling windows (last two axes spatial)."""
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo["k"], geo["s"], geo["d"], geo["out"]
    st = xp.strides
    return as_strided(xp, shape=(*xp.shape[:-2], oh, ow, kh, kw),
                      strides=(*st[:-2], st[-2] * sh, st[-1] * sw, st[-2] * dh, st[-1] * dw))


def _taps(geo: dict[str, Any]) -> list[tuple[int, int]]:
    return [(i, j) for i in range(geo["k"][0]) for j in range(geo["k"][1])]


def _padded_zeros(x_shape: tuple[int, ...], geo: dict[str, Any], dtype: Any) -> np.ndarray:
    (pt, pb), (pl, pr) = geo["pad_width"][2:]
    return np.zeros((*x_shape[:2], x_shape[2] + pt + pb, x_shape[3] + pl + pr), dtype=dtype)


def _unpad(dxp: np.ndarray, x_shape: tuple[int, ...], geo: dict[str, Any]) -> np.ndarray:
    top, left = geo["pad_width"][2][0], geo["pad_width"][3][0]
    return dxp[:, :, top:top + x_shape[2], left:left + x_shape[3]]


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def _along(a: np.ndarray, axis: int, index: slice) -> np.ndarray:
    return a[(slice(None),) * axis + (index,)]


def _tap_range(out: int, size: int, s: int, d: int, lo: int, tap: int) -> tuple[int, int, int]:
    """Outputs ``[o0, o1)`` whose window tap ``tap`` lands inside the input (not in padding) along
    one axis, and the input index ``i0`` the first of them reads (stepping by ``s``)."""
    shift = tap * d - lo
    o0 = max(0, -(-(-shift) // s))
    o1 = min(out, (size - 1 - shift) // s + 1)
    return o0, max(o0, o1), o0 * s + shift


def _reads(o0: int, o1: int, i0: int, s: int) -> slice:
    """The input indices that outputs ``[o0, o1)`` of :func:`_tap_range` read."""
    return slice(i0, i0 + (o1 - o0 - 1) * s + 1, s)


def _max_along(src: np.ndarray, axis: int, out: np.ndarray, k: int, s: int, d: int, lo: int) -> None:
    """``out`` = the running maximum over the ``k`` taps of a pooling window along ``axis``;
    padding never wins. A tap covering every output starts it (a copy), the others are one
    in-place ``np.maximum`` each over the outputs they reach."""
    ranges = [_tap_range(out.shape[axis], src.shape[axis], s, d, lo, t) for t in range(k)]
    full = [t for t, (o0, o1, _) in enumerate(ranges) if (o0, o1) == (0, out.shape[axis])]
    if full:
        out[...] = _along(src, axis, _reads(*ranges.pop(full[0]), s))
    else:
        out.fill(_lowest(out.dtype))
    for o0, o1, i0 in ranges:
        if o1 > o0:
            target = _along(out, axis, slice(o0, o1))
            np.maximum(target, _along(src, axis, _reads(o0, o1, i0, s)), out=target)


def _like(x: np.ndarray, shape: tuple[int, int, int, int]) -> np.ndarray:
    """An empty (N, C, H, W) array in x's memory layout: NHWC memory when x is a channels-last view (as int8
    convolutions write them), so that the passes below read and write in the same order (mixed layouts
    measured 2x slower on ResNet-18's first max pool), else C order."""
    if x.ndim == 4 and x.shape[1] > 1 and x.strides[1] == x.itemsize:
        n, c, h, w = shape
        return np.empty((n, h, w, c), dtype=x.dtype).transpose(0, 3, 1, 2)
    return np.empty(shape, dtype=x.dtype)


def max_pool2d_forward(x: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                       dilation: IntPair = 1, ceil_mode: bool = False) -> tuple[np.ndarray, Any]:
    """Max over each window; padding never wins (it is ``-inf``).

    Args:
        x: input ``(N, C, H, W)``.
        kernel_size, stride, dilation: int or ``(h, w)``; ``stride`` defaults to ``kernel_size``.
        padding: int, ``(ph, pw)`` or ``(top, left, bottom, right)``.
        ceil_mode: round the output size up (PyTorch/ONNX rule).

    Returns:
        ``y`` of shape ``(N, C, oh, ow)`` (in x's memory layout: NHWC memory for a channels-last view) and
        the cache (``x``, ``y`` and the geometry).

    Separable: the window maximum is the maximum over the window's rows (``kh`` passes that read
    whole contiguous input rows) followed by the maximum over its columns (``kw`` passes over the
    ``oh`` row maxima); taps that fall in the padding are skipped, so nothing is padded or
    copied. Ranges of the batch run on the kernel worker threads. Which element won is not
    recorded here: :func:`max_pool2d_backward` finds it, so inference pays nothing for it.
    """
    x = np.asarray(x)
    geo = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo["k"], geo["s"], geo["d"], geo["out"]
    top, left = geo["pads"][:2]
    n, c, _, w = x.shape
    y = _like(x, (n, c, oh, ow))

    def part(a: int, b: int) -> None:
        rows = _like(x, (b - a, c, oh, w))
        _max_along(x[a:b], 2, rows, kh, sh, dh, top)
        _max_along(rows, 3, y[a:b], kw, sw, dw, left)

    parallel_batches(part, n, x.size)
    return y, (x, y, geo)


def max_pool2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """Route each output gradient to its window's first maximum (taps in row-major order).

    Tap by tap, the outputs whose input under the tap equals the maximum and that no earlier tap
    took add their gradient to that input. The input is first split into its ``sw`` column
    phases (``x[..., f::sw]``), so each tap reads and writes unit-stride rows (strided access
    measured 5-10x slower in numpy); the gradient phases are interleaved back at the end.
    Ranges of the batch run on the worker threads.
    """
    x, y, geo = cache
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo["k"], geo["s"], geo["d"], geo["out"]
    top, left = geo["pads"][:2]
    h, w = x.shape[2:]
    dy = np.asarray(dy, dtype=y.dtype)
    dx = np.empty(x.shape, dtype=dy.dtype) if sw > 1 else np.zeros(x.shape, dtype=dy.dtype)
    col_ranges = [_tap_range(ow, w, sw, dw, left, j) for j in range(kw)]

    def part(a: int, b: int) -> None:
        shape = (b - a, x.shape[1], oh, ow)
        xs, dxs = x[a:b], dx[a:b]
        phases = {f: (xs, dxs) if sw == 1 else (np.ascontiguousarray(xs[..., f::sw]), np.zeros_like(xs[..., f::sw]))
                  for f in range(min(sw, w))}
        done, wins, routed = np.zeros(shape, dtype=bool), np.empty(shape, dtype=bool), np.empty(shape, dtype=dy.dtype)
        for i in range(kh):
            p0, p1, r0 = _tap_range(oh, h, sh, dh, top, i)
            rows = _reads(p0, p1, r0, sh)
            for q0, q1, c0 in col_ranges:
                if p1 == p0 or q1 == q0:
                    continue
                xph, dxph = phases[c0 % sw]
                cols = slice(c0 // sw, c0 // sw + q1 - q0)
                out = (slice(None), slice(None), slice(p0, p1), slice(q0, q1))
                won, taken, share = wins[out], done[out], routed[out]
                np.equal(xph[:, :, rows, cols], y[a:b][out], out=won)
                np.greater(won, taken, out=won)  # equal to the maximum and not yet routed
                taken |= won
                target = dxph[:, :, rows, cols]
                np.add(target, np.multiply(dy[a:b][out], won, out=share), out=target)  # faster than where=
        if sw > 1:
            for f, (_, dxph) in phases.items():
                dxs[..., f::sw] = dxph

    parallel_batches(part, x.shape[0], x.size)
    return (dx,)


def _avg_divisor(x_shape: tuple[int, ...], geo: dict[str, Any], count_include_pad: bool, dtype: Any) -> np.ndarray:
    """Per-output element count ``(oh, ow)``: the window inside the explicitly padded (or the real) input."""
    h, w = x_shape[2:]
    top, left, bottom, right = geo["pads"]
    inside = _padded_zeros((1, 1, h, w), geo, dtype)
    if count_include_pad:
        inside[..., :top + h + bottom, :left + w + right] = 1
    else:
        inside[..., top:top + h, left:left + w] = 1
    win = _windows(inside, geo)
    count = sum(win[0, 0, :, :, i, j] for i, j in _taps(geo))
    return np.maximum(count, 1)  # a window lying wholly in excluded padding averages nothing: 0


def avg_pool2d_forward(x: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                       ceil_mode: bool = False, count_include_pad: bool = True) -> tuple[np.ndarray, Any]:
    """Mean over each window.

    Args:
        x: input ``(N, C, H, W)``.
        kernel_size, stride: int or ``(h, w)``; ``stride`` defaults to ``kernel_size``.
        padding: int, ``(ph, pw)`` or ``(top, left, bottom, right)``; zeros.
        ceil_mode: round the output size up (PyTorch/ONNX rule).
        count_include_pad: divide by the window size within the padded input (PyTorch
            default) rather than by the number of real input elements it covers. The
            extra cells that ceil mode reads past the padding are never counted.

    Returns:
        ``y`` of shape ``(N, C, oh, ow)`` and the cache.
    """
    geo = _geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode)
    win = _windows(_pad(x, geo, 0), geo)
    taps = _taps(geo)
    y = win[..., 0, 0].copy()
    for i, j in taps[1:]:
        y += win[..., i, j]
    count = _avg_divisor(x.shape, geo, count_include_pad, x.dtype)
    y /= count
    return y, (x.shape, geo, count)


def avg_pool2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """Spread each output gradient evenly over the elements its window counted."""
    x_shape, geo, count = cache
    share = dy / count
    dxp = _padded_zeros(x_shape, geo, dy.dtype)
    win = _windows(dxp, geo)
    for i, j in _taps(geo):
        win[..., i, j] += share
    return (_unpad(dxp, x_shape, geo),)


def _check_nc(x: np.ndarray, op: str) -> None:
    if x.ndim < 3:
        raise ValueError(f"{op}: expected input (N, C, *spatial), got shape {x.shape}")


def global_avg_pool2d_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Mean over all spatial axes of ``(N, C, *spatial)``, kept as size-1 axes."""
    _check_nc(x, "global_avg_pool2d")
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True), x.shape


def global_avg_pool2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    x_shape = cache
    size = int(np.prod(x_shape[2:]))
    return (np.broadcast_to(dy / size, x_shape).copy(),)


def global_max_pool2d_forward(x: np.ndarray) -> tuple[np.ndarray, Any]:
    """Max over all spatial axes of ``(N, C, *spatial)``, kept as size-1 axes."""
    _check_nc(x, "global_max_pool2d")
    flat = x.reshape(*x.shape[:2], -1)
    arg = flat.argmax(axis=-1)[..., None]
    y = np.take_along_axis(flat, arg, axis=-1)
    return y.reshape(*x.shape[:2], *([1] * (x.ndim - 2))), (x.shape, arg)


def global_max_pool2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    """Route each gradient to the first maximum of its channel."""
    x_shape, arg = cache
    dx = np.zeros((*x_shape[:2], int(np.prod(x_shape[2:]))), dtype=dy.dtype)
    np.put_along_axis(dx, arg, dy.reshape(*x_shape[:2], 1), axis=-1)
    return (dx.reshape(x_shape),)


def _adaptive_matrix(size: int, out: int, dtype: Any) -> np.ndarray:
    """``(out, size)`` averaging matrix with PyTorch's bins [floor(i*size/out), ceil((i+1)*size/out))."""
    i = np.arange(out)
    start = (i * size) // out
    end = -((-(i + 1) * size) // out)
    cols = np.arange(size)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def adaptive_avg_pool2d_forward(x: np.ndarray, output_size: IntPair) -> tuple[np.ndarray, Any]:
    """Average over PyTorch's adaptive bins so the output is ``(N, C, *output_size)``.

    Separable: ``y = A_h @ x @ A_w^T`` with row-averaging matrices, i.e. two GEMMs.
    """
    if x.ndim != 4:
        raise ValueError(f"adaptive_avg_pool2d: expected input (N, C, H, W), got shape {x.shape}")
    oh, ow = _pair(output_size, "output_size")
    ah = _adaptive_matrix(x.shape[2], oh, x.dtype)
    aw = _adaptive_matrix(x.shape[3], ow, x.dtype)
    y = np.matmul(np.matmul(ah, x), aw.T)
    return y, (ah, aw)


def adaptive_avg_pool2d_backward(dy: np.ndarray, cache: Any) -> tuple[np.ndarray]:
    ah, aw = cache
    return (np.matmul(np.matmul(ah.T, dy), aw),)


def max_pool2d_indices(x: np.ndarray, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0,
                       dilation: IntPair = 1, ceil_mode: bool = False, storage_order: int = 0) -> np.ndarray:
    """Where each window's first maximum (taps in row-major order) is, as a flat int64 index into ``x``
    (ONNX MaxPool's Indices output): ``((n * C + c) * H + h) * W + w``, or ``((n * C + c) * W + w) * H + h``
    with ``storage_order=1``. An integer output without a gradient."""
    x = np.asarray(x)
    geo = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geo["k"], geo["s"], geo["d"], geo["out"]
    top, left = geo["pads"][:2]
    windows = _windows(_pad(x, geo, _lowest(x.dtype)), geo)
    tap = np.argmax(windows.reshape(*windows.shape[:4], kh * kw), axis=-1)
    rows = np.arange(oh)[:, None] * sh - top + (tap // kw) * dh
    cols = np.arange(ow)[None, :] * sw - left + (tap % kw) * dw
    n, c, h, w = x.shape
    plane = (np.arange(n)[:, None, None, None] * c + np.arange(c)[None, :, None, None]) * (h * w)
    return (plane + (cols * h + rows if storage_order else rows * w + cols)).astype(np.int64)
