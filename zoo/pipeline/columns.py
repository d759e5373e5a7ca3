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

:meth:`FeatureSpec.decode` does this for a whole Arrow column (scoring, through
:func:`zoo.pipeline.arrow_scoring.score_dataframe`) and for training data (:func:`zoo.pipeline.training.training_frame`, with
:func:`class_indices` and :func:`targets` for the labels).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bigdl_runtime.spark.arrow import BadCell, binary_buffers, tensors

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

    def decode(self, column: pa.Array) -> np.ndarray:
        """An Arrow column of cells -> one float32 array ``(rows, *sample shape)``.

        Number cells are decoded without a loop over rows
        (:func:`bigdl_runtime.spark.arrow.tensors`); so are same-size images
        without a chain. A chain runs image by image.

        Raises:
            BadCell: naming the cell's position (and an image's origin).
        """
        if pa.types.is_struct(column.type) and set(IMAGE_FIELDS) <= {f.name for f in column.type}:
            return self._images(column)
        wanted = f"cannot be reshaped to featureShape {list(self.shape)}" if self.shape else None
        return tensors(column, self.shape or None, dtype=np.float32, wanted=wanted)

    def _images(self, column: pa.StructArray) -> np.ndarray:
        n = len(column)
        if column.null_count:
            raise BadCell(int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]), "the image is null")
        origins = column.field("origin")
        h, w, c, mode = (column.field(f).to_numpy(zero_copy_only=False).astype(np.int64)
                         for f in ("height", "width", "nChannels", "mode"))
        known = np.zeros(n, bool)
        for channels, code in OPENCV_MODES.items():
            known |= (c == channels) & (mode == code)
        data = column.field("data")
        missing = data.is_null().to_numpy(zero_copy_only=False) if data.null_count else np.zeros(n, bool)
        offsets, raw = binary_buffers(data)
        sizes = np.diff(offsets)
        bad = np.flatnonzero(~known | missing | (sizes != h * w * c))
        if bad.size:
            i = int(bad[0])
            name = origins[i].as_py()
            if not known[i]:
                raise BadCell(i, f"image '{name}': mode {mode[i]} with {c[i]} channels is not an 8-bit image "
                                 f"(supported: {OPENCV_MODES})")
            if missing[i]:
                raise BadCell(i, f"image '{name}': the pixel data is null")
            raise BadCell(i, f"image '{name}': {sizes[i]} bytes of pixels for {h[i]}x{w[i]}x{c[i]}")
        chain = _chain(self.chain)
        if chain is None and (h == h[0]).all() and (w == w[0]).all() and (c == c[0]).all():
            pixels = raw[offsets[0]:offsets[-1]].reshape(n, int(h[0]), int(w[0]), int(c[0]))
            x = swap_red_blue(pixels).transpose(0, 3, 1, 2).astype(np.float32)
            if self.shape and x[0].size != int(np.prod(self.shape)):
                raise BadCell(0, f"image '{origins[0].as_py()}': a sample of shape {x.shape[1:]} ({x[0].size} "
                                 f"values) cannot be reshaped to featureShape {list(self.shape)}")
            return x.reshape((n, *self.shape)) if self.shape else x
        samples = []
        for i in range(n):  # the chain (resize, crop, ...) transforms one image at a time
            name = origins[i].as_py()
            pixels = swap_red_blue(raw[offsets[i]:offsets[i + 1]].reshape(int(h[i]), int(w[i]), int(c[i])))
            try:
                x = chain(pixels, name) if chain is not None else pixels.transpose(2, 0, 1)
            except Exception as err:  # noqa: BLE001 - any failure of the chain is this image's
                raise BadCell(i, f"image '{name}': {type(err).__name__}: {err}") from None
            x = np.asarray(x, dtype=np.float32)
            if self.shape:
                if x.size != int(np.prod(self.shape)):
                    raise BadCell(i, f"image '{name}': a sample of shape {x.shape} ({x.size} values) cannot be "
                                     f"reshaped to featureShape {list(self.shape)}")
                x = x.reshape(self.shape)
            elif samples and x.shape != samples[0].shape:
                raise BadCell(i, f"image '{name}' gives a sample of shape {x.shape}, the first of its batch "
                                 f"{samples[0].shape}; make them one size (featurePreprocessing or featureShape)")
            samples.append(x)
        return np.stack(samples)


def is_image_type(data_type: Any) -> bool:
    """True for a Spark struct type holding Spark's image schema fields."""
    names = getattr(data_type, "names", None)
    return names is not None and set(IMAGE_FIELDS) <= set(names)


def swap_red_blue(pixels: np.ndarray) -> np.ndarray:
    """``(..., C)`` pixels in BGR(A) order -> RGB(A), and RGB(A) -> BGR(A); grey is left as it is."""
    if pixels.shape[-1] < 3:
        return pixels
    return np.concatenate([pixels[..., 2::-1], pixels[..., 3:]], axis=-1)


#: built preprocessing chains, by JSON config (a Python worker keeps them between tasks)
_CHAINS: "OrderedDict[str, Callable[[np.ndarray, str], np.ndarray]]" = OrderedDict()


def _chain(config: str) -> Callable[[np.ndarray, str], np.ndarray] | None:
    if not config:
        return None
    if config not in _CHAINS:
        _CHAINS[config] = _build_chain(config)
        while len(_CHAINS) > 8:
            _CHAINS.popitem(last=False)
    return _CHAINS[config]


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
    return swap_red_blue(np.frombuffer(data, dtype=np.uint8).reshape(h, w, c))


def image_row(origin: str, pixels: np.ndarray) -> dict[str, Any]:
    """``(H, W)`` or ``(H, W, C)`` uint8 RGB(A) pixels -> the fields of Spark's image schema (BGR(A) data)."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    h, w, c = pixels.shape
    if c not in OPENCV_MODES:
        raise ValueError(f"image '{origin}': {c} channels; Spark's image schema holds 1, 3 or 4")
    pixels = swap_red_blue(pixels)
    return {"origin": origin, "height": h, "width": w, "nChannels": c, "mode": OPENCV_MODES[c],
            "data": bytearray(np.ascontiguousarray(pixels).tobytes())}


def class_indices(column: pa.Array) -> np.ndarray:
    """A column of classification labels (integral numbers such as StringIndexer's 2.0) as int64 class indices.

    Raises:
        BadCell: the first null, non-numeric or non-integral or negative label.
    """
    if column.null_count:
        raise BadCell(int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]), "a label is null")
    kind = column.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind)):
        raise BadCell(0, f"label {column[0].as_py()!r} is not a number (index string labels with a StringIndexer "
                         "first)")
    if pa.types.is_decimal(kind):
        column = pc.cast(column, pa.float64())
    values = column.to_numpy(zero_copy_only=False).astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.floor(values)))
    if bad.size:
        i = int(bad[0])
        raise BadCell(i, f"label {column[i].as_py()!r} is not a class index (an integer >= 0)")
    return values.astype(np.int64)


def targets(column: pa.Array) -> np.ndarray:
    """A column of regression/generic labels as float32 ``(rows, *shape)``; numbers become shape ``(1,)`` (like a
    ``(N, 1)`` output), Vectors and (nested) arrays keep theirs.

    Raises:
        BadCell: the first null or non-numeric label, or one of another shape than the first row's.
    """
    if column.null_count:
        raise BadCell(int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0]), "a label is null")
    try:
        y = tensors(column, None, np.float32)
    except BadCell as err:
        raise BadCell(err.row, f"label {str(column[err.row].as_py())[:80]} is not a numeric array "
                               f"({err.message.replace('features', 'the label')})") from None
    except TypeError:
        raise BadCell(0, f"label {str(column[0].as_py())[:80]} is not numeric") from None
    return y.reshape(len(y), 1) if y.ndim == 1 else y


def _build_chain(config: str) -> Callable[[np.ndarray, str], np.ndarray]:
    """The ``zoo.feature.image`` chain whose JSON config is ``config``, as ``(pixels, origin) -> array``."""
    from zoo.feature.image import ImageRecord, Pipeline

    chain = Pipeline.from_json(config)

    def apply(pixels: np.ndarray, origin: str) -> np.ndarray:
        return chain.run(ImageRecord(pixels, path=origin)).image

    return apply
