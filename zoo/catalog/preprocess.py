"""The preprocessing a model card describes, from files (or strings) to the model's input.

Kept minimal on purpose: exactly what the shipped cards use, with Pillow and numpy.

Image cards (``kind = "image"``)::

    [preprocessing]
    kind = "image"
    color = "L"              # Pillow mode the image is converted to: "L" (grey) or "RGB"
    size = [28, 28]          # height, width after resizing (the whole image, aspect not kept)
    resize = "bilinear"      # Pillow filter: nearest, bilinear, bicubic, lanczos, box, hamming
    scale = 0.00392156862745098
    mean = [0.286]           # per channel, after scaling
    std = [0.353]
    layout = "NCHW"

gives ``((pixels * scale) - mean) / std`` as float32 ``(N, C, H, W)``.

Before that the image is resized to ``size`` as a whole, unless the card asks for a crop (ImageNet models):

    resize_shorter = 256     # torchvision style: shorter side to 256 (aspect kept), then centre crop to ``size``
    crop_fraction = 0.875    # TensorFlow style: centre crop 0.875 of the shorter side, then resize to ``size``

Text cards (``kind = "text"``): lower-cased (if ``lowercase``), split into tokens
by the regular expression ``token_pattern``, mapped to ids by the vocabulary file
(one token per line, id = line number + ``first_id``; unknown tokens get
``oov_id``), cut/padded with ``pad_id`` to ``max_length`` (keeping the
``keep`` = "first" or "last" ``max_length`` tokens of long texts, padding at ``padding`` = "pre" or "post").
"""
from __future__ import annotations

import os
import re
from typing import Any, Iterable, Sequence

import numpy as np

_FILTERS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def load_images(paths: Iterable[str | os.PathLike], spec: dict[str, Any]) -> np.ndarray:
    """Decode, convert, resize and normalise image files as an image card's ``spec`` says.

    Args:
        paths: image files Pillow can read (PNG, JPEG, ...).
        spec: the card's ``[preprocessing]`` table (``kind = "image"``).

    Returns:
        float32 ``(N, C, H, W)``.

    Raises:
        ValueError: naming the file that cannot be decoded, or the bad spec entry.
    """
    from PIL import Image, UnidentifiedImageError

    color, (height, width) = spec["color"], spec["size"]
    if color not in ("L", "RGB"):
        raise ValueError(f"image preprocessing: color must be 'L' or 'RGB', got {color!r}")
    method = spec.get("resize", "bilinear")
    if method not in _FILTERS:
        raise ValueError(f"image preprocessing: resize must be one of {_FILTERS}, got {method!r}")
    arrays = []
    for path in paths:
        try:
            with Image.open(path) as image:
                image = _fit(image.convert(color), spec, height, width, getattr(Image.Resampling, method.upper()))
                arrays.append(np.asarray(image, dtype=np.float32))
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read image '{os.fspath(path)}': {err}") from err
    if not arrays:
        raise ValueError("no image paths given")
    return normalise(np.stack(arrays), spec)


def _fit(image: Any, spec: dict[str, Any], height: int, width: int, resample: Any) -> Any:
    """Resize (and centre crop) a Pillow image to ``height x width`` as the spec says (see the module doc)."""
    w, h = image.size
    if "resize_shorter" in spec:
        short = int(spec["resize_shorter"])
        size = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
        image = image.resize(size, resample)
        top, left = int(round((size[1] - height) / 2.0)), int(round((size[0] - width) / 2.0))
        return image.crop((left, top, left + width, top + height))
    if "crop_fraction" in spec:
        side = int(float(spec["crop_fraction"]) * min(w, h))
        top, left = (h - side + 1) // 2, (w - side + 1) // 2
        image = image.crop((left, top, left + side, top + side))
    return image.resize((width, height), resample)


def resize_steps(spec: dict[str, Any]) -> list[Any]:
    """The size handling of an image card as ``zoo.feature.image`` transformers (for the Spark chains).

    ``Resize(size)``, or for cards that crop, ``AspectScale`` of the shorter side (``resize_shorter``, or
    ``size / crop_fraction``: cropping 0.875 of the shorter side then resizing to 224 is resizing it to 256
    then cropping 224) then ``CenterCrop(size)``, with Pillow's antialiasing filter as :func:`load_images`.
    """
    from zoo.feature.image import AspectScale, CenterCrop, Resize

    height, width = spec["size"]
    method = {"nearest": "nearest", "bilinear": "bilinear"}.get(spec.get("resize", "bilinear"), "antialias")
    shorter = spec.get("resize_shorter")
    if shorter is None and "crop_fraction" in spec:
        shorter = round(min(height, width) / float(spec["crop_fraction"]))
    if shorter is None:
        return [Resize(height, width, method)]
    return [AspectScale(int(shorter), interpolation="antialias"), CenterCrop(height, width)]


def normalise(pixels: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """``(N, H, W)`` or ``(N, H, W, C)`` pixel values -> normalised float32 ``(N, C, H, W)``."""
    x = np.asarray(pixels, dtype=np.float32)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    channels = x.shape[1]
    mean = np.asarray(spec.get("mean", [0.0]), np.float32).reshape(-1, 1, 1)
    std = np.asarray(spec.get("std", [1.0]), np.float32).reshape(-1, 1, 1)
    if mean.shape[0] not in (1, channels) or std.shape[0] not in (1, channels):
        raise ValueError(f"image preprocessing: mean/std have {mean.shape[0]}/{std.shape[0]} values "
                         f"for {channels} channels")
    return (x * np.float32(spec.get("scale", 1.0)) - mean) / std


def read_vocabulary(path: str | os.PathLike) -> list[str]:
    """The tokens of a vocabulary file, one per line, in id order."""
    with open(path, encoding="utf-8") as f:
        return f.read().split("\n")[:-1]


def encode_texts(texts: Sequence[str], vocabulary: dict[str, int], spec: dict[str, Any]) -> np.ndarray:
    """Texts -> int64 ``(N, max_length)`` token ids as a text card's ``spec`` says (see module doc)."""
    if isinstance(texts, str):
        raise TypeError("encode_texts takes a list of texts, not one string")
    pattern = re.compile(spec["token_pattern"])
    length, pad, oov = int(spec["max_length"]), int(spec["pad_id"]), int(spec["oov_id"])
    out = np.full((len(texts), length), pad, dtype=np.int64)
    for row, text in enumerate(texts):
        tokens = pattern.findall(text.lower() if spec.get("lowercase", True) else text)
        ids = [vocabulary.get(t, oov) for t in tokens]
        ids = ids[:length] if spec.get("keep", "last") == "first" else ids[-length:]
        if spec.get("padding", "pre") == "pre":
            out[row, length - len(ids):] = ids
        else:
            out[row, :len(ids)] = ids
    return out
