"""DataFrame cells -> network inputs and targets, on the Spark workers.

A features cell is one of:
    - an ml/mllib Vector (dense or sparse) or an array column (possibly nested);
    - an image struct in Spark's image schema (``origin, height, width,
      nChannels, mode, data``; ``data`` holds the pixels row-major with the
      channels in OpenCV's BGR(A) order), e.g. from :class:`~zoo.pipeline.NNImageReader`.

Numbers become a float32 array reshaped to ``featureShape`` when one is set.
Images become ``(H, W, C)`` uint8 RGB(A) (grey stays one channel) and go
through the ``featurePreprocessing`` chain (a ``zoo.feature.image`` transformer
config); without a chain they become float32 ``(C, H, W)`` pixel values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

import numpy as np

#: fields of Spark's image schema (pyspark.ml.image.ImageSchema.imageFields)
IMAGE_FIELDS = ("origin", "height", "width", "nChannels", "mode", "data")
#: OpenCV type of 8-bit images by channel count, as Spark's image schema stores it in ``mode``
OPENCV_MODES = {1: 0, 3: 16, 4: 24}


@dataclass(frozen=True)
class FeatureSpec:
    """How the cells of one features column become network inputs (picklable, shipped to workers).

    Args:
        column: the column name (for errors).
        shape: the per-sample input shape, or () to keep the cell's own shape.
        chain: the preprocessing chain's JSON config, or "" for none.
    """

    column: str
    shape: tuple[int, ...] = ()
    chain: str = ""

    def converter(self) -> Callable[[Any], np.ndarray]:
        """A function cell -> float32 array (builds the preprocessing chain once)."""
        chain = _build_chain(self.chain) if self.chain else None

        def convert(cell: Any) -> np.ndarray:
            if cell is None:
                raise ValueError(f"column '{self.column}': a features cell is null")
            if is_image(cell):
                pixels = image_to_array(cell)
                x = chain(pixels, cell["origin"]) if chain is not None else pixels.transpose(2, 0, 1)
                x = np.asarray(x, dtype=np.float32)
            else:
                if hasattr(cell, "toArray"):
                    cell = cell.toArray()
                try:
                    x = np.asarray(cell, dtype=np.float32)
                except (TypeError, ValueError) as err:
                    raise ValueError(f"column '{self.column}': features are not numeric "
                                     f"({str(err).splitlines()[0]}): {str(cell)[:80]}") from None
            if self.shape:
                if x.size != int(np.prod(self.shape)):
                    raise ValueError(f"column '{self.column}': a sample of shape {x.shape} ({x.size} values) "
                                     f"cannot be reshaped to featureShape {list(self.shape)}")
                x = x.reshape(self.shape)
            return x

        return convert


def is_image(cell: Any) -> bool:
    """True for a Row in Spark's image schema."""
    fields = getattr(cell, "__fields__", None)
    return fields is not None and set(IMAGE_FIELDS) <= set(fields)


def image_to_array(cell: Any) -> np.ndarray:
    """An image-schema Row -> ``(H, W, C)`` uint8 with the channels in RGB(A) order.

    Raises:
        ValueError: naming the image's origin when the mode is not 8-bit or the bytes do not fit.
    """
    h, w, c, mode = int(cell["height"]), int(cell["width"]), int(cell["nChannels"]), int(cell["mode"])
    if OPENCV_MODES.get(c) != mode:
        raise ValueError(f"image '{cell['origin']}': mode {mode} with {c} channels is not an 8-bit image "
                         f"(supported: {OPENCV_MODES})")
    data = bytes(cell["data"])
    if len(data) != h * w * c:
        raise ValueError(f"image '{cell['origin']}': {len(data)} bytes of pixels for {h}x{w}x{c}")
    pixels = np.frombuffer(data, dtype=np.uint8).reshape(h, w, c)
    if c >= 3:
        pixels = np.concatenate([pixels[..., 2::-1], pixels[..., 3:]], axis=-1)
    return pixels


def image_row(origin: str, pixels: np.ndarray) -> dict[str, Any]:
    """``(H, W)`` or ``(H, W, C)`` uint8 RGB(A) pixels -> the fields of Spark's image schema (BGR(A) data)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    h, w, c = pixels.shape
    if c not in OPENCV_MODES:
        raise ValueError(f"image '{origin}': {c} channels; Spark's image schema holds 1, 3 or 4")
    if c >= 3:
        pixels = np.concatenate([pixels[..., 2::-1], pixels[..., 3:]], axis=-1)
    return {"origin": origin, "height": h, "width": w, "nChannels": c, "mode": OPENCV_MODES[c],
            "data": bytearray(np.ascontiguousarray(pixels).tobytes())}


def class_index(value: Any, column: str) -> int:
    """A classification label (an integral number such as StringIndexer's 2.0) as a class index."""
    if value is None:
        raise ValueError(f"column '{column}': a label is null")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"column '{column}': label {value!r} is not a number (index string labels with "
                         "a StringIndexer first)") from None
    if not number.is_integer() or number < 0:
        raise ValueError(f"column '{column}': label {value!r} is not a class index (an integer >= 0)")
    return int(number)


def target_value(value: Any, column: str) -> np.ndarray:
    """A regression/generic label as a float32 array; a number becomes shape ``(1,)``, like a ``(N, 1)`` output."""
    if value is None:
        raise ValueError(f"column '{column}': a label is null")
    if hasattr(value, "toArray"):
        value = value.toArray()
    try:
        return np.asarray(value, dtype=np.float32).reshape(-1) if np.ndim(value) == 0 \
            else np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValueError(f"column '{column}': label {str(value)[:80]} is not numeric") from None


def samples(rows: Iterable[Any], feature: FeatureSpec, label: str,
            classification: bool) -> Iterator[tuple[np.ndarray, Any]]:
    """Rows ``(features, label)`` -> ``(input array, target)`` pairs for the trainer."""
    convert = feature.converter()
    to_target = class_index if classification else target_value
    for row in rows:
        yield convert(row[0]), to_target(row[1], label)


def _build_chain(config: str) -> Callable[[np.ndarray, str], np.ndarray]:
    """The ``zoo.feature.image`` chain whose JSON config is ``config``, as ``(pixels, origin) -> array``."""
    from zoo.feature.image import ImageRecord, Pipeline

    chain = Pipeline.from_json(config)

    def apply(pixels: np.ndarray, origin: str) -> np.ndarray:
        return chain.run(ImageRecord(pixels, path=origin)).image

    return apply
