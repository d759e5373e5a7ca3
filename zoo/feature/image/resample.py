"""numpy resampling kernels on ``(H, W, C)`` images: resize (bilinear, nearest) and affine warps.

Pixel ``i`` covers ``[i, i + 1)``, its centre is ``i + 0.5`` (the half-pixel
convention of OpenCV's ``INTER_LINEAR`` and Pillow), so resizing does not
shift the image.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from .transform import as_float, like_input

INTERPOLATIONS = ("bilinear", "nearest", "antialias")


def check_interpolation(name: str) -> str:
    """Validate an interpolation name."""
    if name not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {name!r}")
    return name


def _linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices ``(i0, i1)`` and weight of ``i1`` for each output position along one axis."""
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (src - i0).astype(np.float32)


def _nearest_taps(n_in: int, n_out: int) -> np.ndarray:
    src = np.floor((np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out)).astype(np.int64)
    return np.minimum(src, n_in - 1)


def resize(image: np.ndarray, height: int, width: int, interpolation: str = "bilinear") -> np.ndarray:
    """Resize an ``(H, W, C)`` image to ``(height, width, C)``, keeping its dtype.

    Args:
        image: any numeric dtype; integer results are rounded and clipped.
        height, width: the output size.
        interpolation: ``"bilinear"`` (separable, half-pixel centres, no
            antialiasing: OpenCV's ``INTER_LINEAR``), ``"nearest"``, or
            ``"antialias"`` (Pillow's bilinear filter widened by the scale when
            shrinking, so fine detail averages instead of aliasing; same as
            ``"bilinear"`` when enlarging).

    Returns:
        the resized image.
    """
    check_interpolation(interpolation)
    h_in, w_in = image.shape[:2]
    if (h_in, w_in) == (height, width):
        return image
    if interpolation == "nearest":
        return image[_nearest_taps(h_in, height)][:, _nearest_taps(w_in, width)]
    if interpolation == "antialias":
        return _pillow_resize(image, height, width)
    x = as_float(image)
    h_in, w_in, c = x.shape
    # each pass interpolates along axis 0 of a 2-D array whose rows are long and
    # contiguous (numpy is slow when the innermost broadcast axis is the 3 channels)
    rows = _lerp_rows(x.reshape(h_in, w_in * c), *_linear_taps(h_in, height))
    cols = rows.reshape(height, w_in, c).transpose(1, 0, 2).reshape(w_in, height * c)
    out = _lerp_rows(cols, *_linear_taps(w_in, width)).reshape(width, height, c).transpose(1, 0, 2)
    return np.ascontiguousarray(like_input(out, image))


def _pillow_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pillow's antialiased bilinear resize: uint8 RGB/gray at once, anything else per channel in float32."""
    if image.dtype == np.uint8 and image.shape[2] in (1, 3):
        pixels = image[:, :, 0] if image.shape[2] == 1 else image
        out = np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))
        return out.reshape(height, width, image.shape[2])
    planes = [np.asarray(Image.fromarray(np.ascontiguousarray(image[:, :, c], dtype=np.float32), mode="F")
                         .resize((width, height), Image.Resampling.BILINEAR)) for c in range(image.shape[2])]
    return like_input(np.stack(planes, axis=-1), image)


def _lerp_rows(a: np.ndarray, i0: np.ndarray, i1: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``a[i0] + (a[i1] - a[i0]) * weight`` per row, with few temporaries."""
    low = a[i0]
    out = a[i1]
    out -= low
    out *= weight.astype(a.dtype)[:, None]
    out += low
    return out


def warp_affine(image: np.ndarray, inverse: np.ndarray, height: int, width: int, fill: float = 0.0) -> np.ndarray:
    """Sample ``image`` bilinearly at ``inverse @ (x, y, 1)`` for every output pixel centre.

    Args:
        image: ``(H, W, C)``.
        inverse: ``(2, 3)`` map from output to input pixel-index coordinates.
        height, width: output size.
        fill: value of samples outside the input.

    Returns:
        ``(height, width, C)`` in the input's dtype.
    """
    h_in, w_in = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    sx = inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]
    sy = inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]
    x0 = np.floor(sx).astype(np.int64)
    y0 = np.floor(sy).astype(np.int64)
    fx = (sx - x0).astype(np.float32)[..., None]
    fy = (sy - y0).astype(np.float32)[..., None]
    src = as_float(image)

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        inside = ((yy >= 0) & (yy < h_in) & (xx >= 0) & (xx < w_in))[..., None]
        values = src[np.clip(yy, 0, h_in - 1), np.clip(xx, 0, w_in - 1)]
        return np.where(inside, values, np.float32(fill))

    top = tap(y0, x0) * (1 - fx) + tap(y0, x0 + 1) * fx
    bottom = tap(y0 + 1, x0) * (1 - fx) + tap(y0 + 1, x0 + 1) * fx
    return like_input(top * (1 - fy) + bottom * fy, image)


def rotation_inverse(angle: float, height: int, width: int) -> np.ndarray:
    """The output->input map of a counter-clockwise rotation by ``angle`` degrees about the image centre."""
    theta = np.deg2rad(angle)
    c, s = np.cos(theta), np.sin(theta)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    return np.array([[c, -s, cx - c * cx + s * cy],
                     [s, c, cy - s * cx - c * cy]], dtype=np.float64)
