"""Decode image bytes with Pillow into an ``(H, W, C)`` uint8 array, or say exactly why not."""
from __future__ import annotations

import io
import warnings
from typing import Callable

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from bigdl_runtime.native_heap import retain_freed_memory

#: Pillow's own limit at import time (about 89.5 megapixels): the default ``max_pixels``.
DEFAULT_MAX_PIXELS: int = int(Image.MAX_IMAGE_PIXELS or 89_478_485)

#: File name endings read by default (lower case).
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                                     ".pgm", ".pbm")

_COLORS = ("rgb", "gray")


class BadImageError(ValueError):
    """An image that cannot be used: empty, undecodable, truncated or too large.

    Attributes:
        path: the file at fault.
        reason: a short description (``"zero-byte file"``, ``"truncated or corrupt: ..."``).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"bad image {path}: {reason}")
        self.path = path
        self.reason = reason


def check_color(color: str) -> str:
    """Validate a ``color`` argument (``"rgb"`` or ``"gray"``)."""
    if color not in _COLORS:
        raise ValueError(f"color must be one of {_COLORS}, got {color!r}")
    return color


#: EXIF orientations that turn the stored image by 90 degrees (its width becomes the upright height)
_TURNED = (5, 6, 7, 8)
#: ``(height, width) -> (height, width)``: the smallest upright size the first preprocessing step needs
SizeNeeded = Callable[[int, int], "tuple[int, int] | None"]


def decode_image(data: bytes, path: str, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 color: str = "rgb", size_needed: SizeNeeded | None = None) -> np.ndarray:
    """Decode one encoded image (any format Pillow reads).

    EXIF orientation is applied (a photo taken sideways comes out upright);
    grayscale, palette, CMYK and RGBA images are converted (alpha is dropped,
    like OpenCV's ``imread``); 16/32-bit grayscale is scaled to 8 bits.

    Args:
        data: the file's bytes.
        path: names the file in errors.
        max_pixels: images with more pixels (width x height) are refused before
            their pixels are decoded (decompression bombs); None disables the check.
            Pillow's own bomb guard still fires above twice ``PIL.Image.MAX_IMAGE_PIXELS``.
        color: ``"rgb"`` gives ``(H, W, 3)``, ``"gray"`` gives ``(H, W, 1)``.
        size_needed: for a JPEG about to be resized (e.g.
            :meth:`~zoo.feature.image.Transformer.decode_size` of a chain), the upright
            size the resize needs: the JPEG is decoded at the smallest of Pillow's DCT
            scales (1/2, 1/4, 1/8) that still gives at least that size (``Image.draft``),
            much faster than a full decode followed by a large downscale.

    Returns:
        a contiguous uint8 array ``(H, W, C)``.

    Raises:
        BadImageError: zero-byte, unidentifiable, truncated/corrupt or too large.

    Examples:
        >>> img = decode_image(open("cat.jpg", "rb").read(), "cat.jpg")
        >>> img.shape, img.dtype
        ((375, 500, 3), dtype('uint8'))

    The first call sets this process's malloc to keep freed memory for the next image
    (:func:`bigdl_runtime.native_heap.retain_freed_memory`): decoding and preprocessing
    photos one after another otherwise had the kernel map fresh pages for every one.
    """
    retain_freed_memory()
    check_color(color)
    if len(data) == 0:
        raise BadImageError(path, "zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                if max_pixels is not None and width * height > max_pixels:
                    raise BadImageError(path, f"decompression bomb: {width}x{height} = {width * height} pixels "
                                              f"> max_pixels {max_pixels}")
                if size_needed is not None and img.format == "JPEG":
                    _draft(img, size_needed)
                img.load()
                upright = ImageOps.exif_transpose(img)
                return _to_array(upright, color)
    except BadImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise BadImageError(path, f"decompression bomb: {err}") from None
    except UnidentifiedImageError:
        raise BadImageError(path, "not a recognised image format") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as err:
        raise BadImageError(path, f"truncated or corrupt: {err}") from None


def _draft(img: Image.Image, size_needed: SizeNeeded) -> None:
    """Ask Pillow to decode ``img`` (a JPEG) at the smallest DCT scale that still gives ``size_needed``'s size."""
    width, height = img.size
    turned = img.getexif().get(0x0112, 1) in _TURNED
    needed = size_needed(width, height) if turned else size_needed(height, width)
    if needed is not None:
        need_h, need_w = needed
        img.draft(None, (need_h, need_w) if turned else (need_w, need_h))


def _to_array(img: Image.Image, color: str) -> np.ndarray:
    """Convert a loaded Pillow image to uint8 ``(H, W, C)`` in the wanted color."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(img, dtype=np.int64)
        shift = 8 if img.mode.startswith("I;16") or wide.max(initial=0) <= 0xFFFF else 24
        gray = np.clip(wide >> shift, 0, 255).astype(np.uint8)
        img = Image.fromarray(gray, mode="L")
    elif img.mode == "F":
        img = Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8), mode="L")
    target = "RGB" if color == "rgb" else "L"
    if img.mode != target:
        img = img.convert(target)
    array = np.asarray(img, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array)
