"""NNImageReader: a folder of images (any Hadoop path) as a DataFrame in Spark's image schema, or as
preprocessed float32 tensors.

The files come from Spark's ``binaryFile`` source and are decoded on the
executors inside one ``mapInArrow``: each Arrow batch of ``(path, content)``
rows becomes an Arrow batch of image structs (or, with a preprocessing chain,
of the chain's float32 tensors as raw bytes), so decoded pixels cross into the
JVM once, column by column, and are cached there (the returned DataFrame is that
cache; the chain runs once per image, in the one job that decodes; see
:mod:`zoo.feature.image.spark_read`). What the read found besides good images
(bad files, unlabelled ones, non-image files, zero-byte files that Spark's scan
leaves out) comes back from that job and is reported exactly as :meth:`zoo.feature.image.ImageSet.read` reports
it (:class:`~zoo.feature.image.ImageReadWarning`, or a
:class:`~zoo.feature.image.BadImageError` naming the first bad file).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
from pyspark.ml.image import ImageSchema
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import BinaryType, DoubleType, StringType, StructField, StructType

from bigdl_runtime.spark.arrow import binary_column

from zoo.feature.image.transform import Transformer

from .columns import OPENCV_MODES, swap_red_blue

_IMAGE_TYPE = pa.struct([pa.field("origin", pa.string()), pa.field("height", pa.int32(), False),
                         pa.field("width", pa.int32(), False), pa.field("nChannels", pa.int32(), False),
                         pa.field("mode", pa.int32(), False), pa.field("data", pa.binary(), False)])


class NNImageReader:
    """Reads images into a DataFrame whose ``image`` column follows ``pyspark.ml.image.ImageSchema``.

    The struct holds ``origin`` (the file's path), ``height``, ``width``,
    ``nChannels``, ``mode`` (OpenCV type: 0 for grey, 16 for 3 channels) and
    ``data`` (row-major pixels, channels in BGR order), so the column works
    with Spark's own image tools and with the NN stages (``featuresCol="image"``).
    """

    @staticmethod
    def read_images(path: str, spark: SparkSession, with_label: Any = "folder", color: str = "rgb",
                    classes: Sequence[str] | None = None, on_error: str = "skip",
                    num_partitions: int | None = None, transform: Transformer | None = None) -> DataFrame:
        """Read and decode (and preprocess) the images under ``path`` on the executors, cached.

        Args:
            path: a folder (recursive), file or glob; local or any Hadoop URI (``hdfs://...``).
            spark: the session; decoding runs on its executors.
            with_label: ``"folder"`` (parent folder name is the class), a CSV of
                ``path,label`` rows, a DataFrame of (path, label), or None.
            color: ``"rgb"`` (3 channels) or ``"gray"`` (1 channel).
            classes: the class names in index order (e.g. a model's labels); default:
                the sorted names found.
            on_error: ``"skip"`` undecodable files (reported in a warning) or ``"raise"``.
            num_partitions: spread the files over this many partitions before decoding
                (default: the scan's splits, coalesced to about two per core, see
                :func:`zoo.feature.image.spark_read.binary_files`).
            transform: a ``zoo.feature.image`` chain run on each decoded image on the
                executors (epoch 0: its random steps draw per image, the same draws as an
                :class:`~zoo.feature.image.ImageSet` read); it must give one shape for
                every image. JPEGs are decoded at the reduced size its first resize allows
                (:meth:`~zoo.feature.image.Transformer.decode_size`). An image it fails on
                is a bad image (skipped and reported, or raised).

        Returns:
            a DataFrame with ``image`` (with ``transform``: ``origin``, the file's path, and
            ``features``, the chain's output as float32 bytes in C order: give its shape as
            ``input_shape`` / ``featureShape``), and for labelled images ``label`` (the class
            index as a double, with the class names in the column's ML attribute
            metadata, as StringIndexer writes it, so ``IndexToString`` decodes it)
            and ``labelName``; in the scan's order (fixed for a given set of files).
            It is cached (memory and disk: the images are decoded once); ``unpersist()``
            releases it.

        Raises:
            BadImageError: with ``on_error="raise"``, naming the first bad file (by path).
            FileNotFoundError: nothing at ``path``.
            ValueError: labels that ``classes`` does not know; a ``transform`` giving
                tensors of several shapes (naming an image of each).

        Examples:
            >>> df = NNImageReader.read_images("hdfs://nn/pets/train", spark, color="rgb")
            >>> df.select("image.origin", "label").show(2)
            >>> chain = AspectScale(256) >> CenterCrop(224, 224) >> PixelScale() >> ToTensor()
            >>> x = NNImageReader.read_images("hdfs://nn/pets/val", spark, transform=chain)
            >>> zoo.predict(net, x, input_shape=(3, 224, 224), output="label")
        """
        from zoo.feature.image import LabelMap
        from zoo.feature.image.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, check_color
        from zoo.feature.image.reading import ON_ERROR, ReadOptions
        from zoo.feature.image.sources import label_source
        from zoo.feature.image.spark_read import read_cached

        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        check_color(color)
        source, table = label_source(with_label, spark)
        options = ReadOptions(source, table, IMAGE_EXTENSIONS, DEFAULT_MAX_PIXELS, color, on_error)
        fixed = None if classes is None else LabelMap(classes, sort=False)
        if transform is None:
            kept, encode, chain = [StructField("image", ImageSchema.columnSchema)], _image_batch, ""
        else:
            kept = [StructField("origin", StringType()), StructField("features", BinaryType())]
            encode, chain = _tensor_batch, transform.to_json()
        schema = functools.partial(_with_labels_schema, kept)
        result, _, _ = read_cached(path, spark, options, fixed, num_partitions, schema, encode, chain)
        return result


def _with_labels_schema(kept: list[StructField], labels: Any) -> StructType:
    """The ``kept`` columns, and for labelled images ``label`` (with the class names as ML attribute metadata,
    as StringIndexer writes them) and ``labelName``."""
    if labels is None:
        return StructType(kept)
    attribute = {"ml_attr": {"type": "nominal", "name": "label", "vals": list(labels.names)}}
    return StructType([*kept, StructField("label", DoubleType(), metadata=attribute),
                       StructField("labelName", StringType())])


def _with_labels_batch(columns: list[pa.Array], names: list[str], records: list[Any],
                       labelled: bool) -> pa.RecordBatch:
    """``columns`` (named ``names``) and, for a labelled read, the records' ``label`` and ``labelName``."""
    if labelled:
        columns = [*columns, pa.array([None if r.label is None else float(r.label) for r in records], pa.float64()),
                   pa.array([r.label_name for r in records], pa.string())]
        names = [*names, "label", "labelName"]
    return pa.RecordBatch.from_arrays(columns, names=names)


def _image_batch(records: list[Any], labelled: bool) -> pa.RecordBatch:
    """Good records -> Spark image structs (BGR(A) bytes, row-major) with their labels."""
    images = [r.image if r.image.ndim == 3 else r.image[..., None] for r in records]
    shapes = np.array([image.shape for image in images], np.int64).reshape(-1, 3)
    offsets = np.concatenate([[0], np.cumsum(shapes.prod(axis=1))])
    data = np.empty(int(offsets[-1]), np.uint8)
    for i, image in enumerate(images):  # each image's channels swapped straight into the batch's buffer
        data[offsets[i]:offsets[i + 1]].reshape(image.shape)[...] = swap_red_blue(image)
    heights, widths, channels = (pa.array(shapes[:, k].astype(np.int32)) for k in range(3))
    modes = pa.array(np.array([0] + [OPENCV_MODES.get(c, 0) for c in range(1, 5)], np.int32)[shapes[:, 2]])
    structs = pa.StructArray.from_arrays(
        [pa.array([r.path for r in records], pa.string()), heights, widths, channels, modes,
         binary_column(offsets, data)], fields=list(_IMAGE_TYPE))  # < 2 GiB: see spark_read.MAX_BATCH_BYTES
    return _with_labels_batch([structs], ["image"], records, labelled)


def _tensor_batch(records: list[Any], labelled: bool) -> pa.RecordBatch:
    """Good records -> their preprocessed tensors as float32 bytes (C order), with their labels."""
    from zoo.feature.image.arrow_records import tensor_column

    return _with_labels_batch([pa.array([r.path for r in records], pa.string()), tensor_column(records)],
                              ["origin", "features"], records, labelled)
