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

gives ``((pixels * scale) - mean) / std`` as float32 ``(N, C, H, W)``: :func:`load_images` with Pillow on
files, or the same steps as a ``zoo.feature.image`` chain (:func:`image_chain`) for arrays, ImageSets and the
Spark ML stages' image columns.

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

    reader_color(spec)  # an unsupported colour fails here, naming the spec entry
    color, (height, width) = spec["color"], spec["size"]
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


def image_chain(spec: dict[str, Any]) -> Any:
    """An image card's ``spec`` as a ``zoo.feature.image`` chain from ``(H, W, C)`` RGB or grey pixels.

    ``ColorConvert`` (to the card's colour, so images read in any mode fit) >> ``Resize`` (or, for cards that
    crop, ``AspectScale`` >> ``CenterCrop``, see :func:`resize_steps`) >> ``PixelScale`` >> ``ChannelNormalize``
    >> ``ToTensor``: float32 ``(C, H, W)``, what :func:`load_images` gives per image.

    Raises:
        ValueError: a card that does not describe images, or an unsupported colour.
    """
    from zoo.feature.image import ChannelNormalize, ColorConvert, PixelScale, ToTensor
    from zoo.feature.image.transform import Pipeline

    if spec.get("kind") != "image":
        raise ValueError(f"the model's card describes {spec.get('kind')!r} inputs, not images")
    return Pipeline([ColorConvert(reader_color(spec)), *resize_steps(spec), PixelScale(float(spec.get("scale", 1.0))),
                     ChannelNormalize(spec.get("mean", [0.0]), spec.get("std", [1.0])), ToTensor()])


def reader_color(spec: dict[str, Any]) -> str:
    """An image card's Pillow colour (``"L"`` / ``"RGB"``) as the image readers' ``color`` (``"gray"`` / ``"rgb"``)."""
    color = {"L": "gray", "RGB": "rgb"}.get(spec.get("color", "RGB"))
    if color is None:
        raise ValueError(f"image preprocessing: color must be 'L' or 'RGB', got {spec.get('color')!r}")
    return color


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
