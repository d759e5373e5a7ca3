"""NNImageReader: a folder of images (any Hadoop path) as a DataFrame in Spark's image schema.

The files come from Spark's ``binaryFile`` source and are decoded on the
executors inside one ``mapInArrow``: each Arrow batch of ``(path, content)``
rows becomes an Arrow batch of image structs, so decoded pixels cross into the
JVM once, column by column, and are cached there (the returned DataFrame is that
cache). What the read found besides
good images (bad files, unlabelled ones, non-image files, zero-byte files that
Spark's scan leaves out) is counted by small Spark aggregations over the cached
result and reported exactly as :meth:`zoo.feature.image.ImageSet.read` reports
it (:class:`~zoo.feature.image.ImageReadWarning`, or a
:class:`~zoo.feature.image.BadImageError` naming the first bad file).
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from pyspark.ml.image import ImageSchema
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from bigdl_runtime.spark.arrow import binary_buffers, binary_column

from .columns import OPENCV_MODES, swap_red_blue

#: the columns :func:`_decode_batches` gives per file; ``outcome`` is read_file's kind (ok, bad, unlabelled,
#: ignored); the image column's type is Spark's image schema (read from the JVM, see :func:`_decoded_schema`)
_DECODED = ("image", "label", "labelName", "outcome", "path", "reason", "labelRow")


def _decoded_schema() -> StructType:
    return StructType([StructField("image", ImageSchema.columnSchema, True), StructField("label", DoubleType()),
                       StructField("labelName", StringType()), StructField("outcome", StringType(), False),
                       StructField("path", StringType(), False), StructField("reason", StringType()),
                       StructField("labelRow", StringType())])


#: decoded pixel bytes per output Arrow batch (a batch is cut after the image that reaches it)
MAX_BATCH_BYTES = 64 << 20
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
                    num_partitions: int | None = None) -> DataFrame:
        """Read and decode the images under ``path`` on the executors (lazy result over a cached decode).

        Args:
            path: a folder (recursive), file or glob; local or any Hadoop URI (``hdfs://...``).
            spark: the session; decoding runs on its executors.
            with_label: ``"folder"`` (parent folder name is the class), a CSV of
                ``path,label`` rows, a DataFrame of (path, label), or None.
            color: ``"rgb"`` (3 channels) or ``"gray"`` (1 channel).
            classes: the class names in index order (e.g. a model's labels); default:
                the sorted names found.
            on_error: ``"skip"`` undecodable files (reported in a warning) or ``"raise"``.
            num_partitions: spread the files over this many partitions before decoding.

        Returns:
            a DataFrame with ``image``, and for labelled images ``label`` (the class
            index as a double, with the class names in the column's ML attribute
            metadata, as StringIndexer writes it, so ``IndexToString`` decodes it)
            and ``labelName``; in the scan's order (fixed for a given set of files).
            It is cached (memory and disk: the images are decoded once); ``unpersist()``
            releases it.

        Raises:
            BadImageError: with ``on_error="raise"``, naming the first bad file (by path).
            FileNotFoundError: nothing at ``path``.
            ValueError: labels that ``classes`` does not know.

        Examples:
            >>> df = NNImageReader.read_images("hdfs://nn/pets/train", spark, color="rgb")
            >>> df.select("image.origin", "label").show(2)
        """
        from zoo.feature.image import LabelMap
        from zoo.feature.image.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, BadImageError, check_color
        from zoo.feature.image.outcomes import finish_read
        from zoo.feature.image.reading import ON_ERROR, ReadOptions
        from zoo.feature.image.sources import label_source
        from zoo.feature.image.spark_read import binary_files

        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        check_color(color)
        source, table = label_source(with_label, spark)
        # tasks always skip bad images (a failing task would be retried for nothing); the driver raises
        options = ReadOptions(source, table, IMAGE_EXTENSIONS, DEFAULT_MAX_PIXELS, color, "skip")
        files, scanned = binary_files(path, spark, num_partitions)
        decoded = scanned.mapInArrow(functools.partial(_decode_batches, options), _decoded_schema())
        decoded.persist()       # MEMORY_AND_DISK_DESER: no serialising of the cached batches
        summary = _summary(decoded, files, options)
        if on_error == "raise" and summary.skipped:
            decoded.unpersist()
            raise BadImageError(*sorted(summary.skipped)[0])
        fixed = None if classes is None else LabelMap(classes, sort=False)
        labels, _ = finish_read([summary], dataclasses.replace(options, on_error=on_error), fixed)
        good = decoded.where(F.col("outcome") == "ok")
        if labels is None:
            result = good.select("image")
        else:
            names = F.create_map(*(x for i, name in enumerate(labels.names)
                                   for x in (F.lit(name), F.lit(float(i)))))
            attribute = {"ml_attr": {"type": "nominal", "name": "label", "vals": list(labels.names)}}
            result = good.select("image", F.element_at(names, F.col("labelName")).alias("label", metadata=attribute),
                                 "labelName")
        result.persist()
        result.count()          # copied from the decode's cache on the JVM (no Python), which is then released
        decoded.unpersist()
        return result


def _decode_batches(options: Any, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The task: each ``(path, content)`` Arrow batch -> a batch of :data:`_DECODED` rows, one per file."""
    from zoo.feature.image.labels import LabelTable
    from zoo.feature.image.reading import read_file

    table = LabelTable(options.table or {}) if options.label_source == "table" else None
    for batch in batches:
        paths = batch.column(0).to_pylist()
        offsets, raw = binary_buffers(batch.column(1))
        outcomes: list[tuple[str, Any]] = []
        size = 0
        for i, path in enumerate(paths):  # one file at a time: Pillow decodes one image per call
            outcomes.append(read_file(path, raw[offsets[i]:offsets[i + 1]], options, table))
            size += outcomes[-1][1].image.nbytes if outcomes[-1][0] == "ok" else 0
            if size >= MAX_BATCH_BYTES:  # decoded pixels are many times the files' bytes: bound each batch
                yield _outcome_batch(outcomes, options, table)
                outcomes, size = [], 0
        if outcomes:
            yield _outcome_batch(outcomes, options, table)


def _outcome_batch(outcomes: list[tuple[str, Any]], options: Any, table: Any) -> pa.RecordBatch:
    from zoo.feature.image.labels import folder_label

    n = len(outcomes)
    kinds = [kind for kind, _ in outcomes]
    paths, reasons, names, rows = [], [], [], []
    good = [payload for kind, payload in outcomes if kind == "ok"]
    for kind, payload in outcomes:
        path = payload.path if kind == "ok" else payload[0] if kind == "bad" else payload
        paths.append(path)
        reasons.append(payload[1] if kind == "bad" else None)
        names.append(payload.label_name if kind == "ok" else
                     folder_label(path) if kind == "bad" and options.label_source == "folder" else None)
        rows.append(table.lookup(path)[1] if table is not None and kind in ("ok", "bad") else None)
    ok = np.array([kind == "ok" for kind in kinds], bool)
    images = _image_structs(good, ok, n)
    return pa.RecordBatch.from_arrays(
        [images, pa.nulls(n, pa.float64()), pa.array(names, pa.string()), pa.array(kinds, pa.string()),
         pa.array(paths, pa.string()), pa.array(reasons, pa.string()), pa.array(rows, pa.string())],
        names=list(_DECODED))


def _image_structs(records: list[Any], ok: np.ndarray, n: int) -> pa.StructArray:
    """Spark image structs for the ``ok`` positions of ``n`` rows (null elsewhere): BGR(A) bytes, row-major."""
    shapes = np.zeros((n, 3), np.int64)
    where = np.flatnonzero(ok)
    images = [r.image if r.image.ndim == 3 else r.image[..., None] for r in records]
    shapes[where] = [image.shape for image in images]
    sizes = shapes.prod(axis=1)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    data = np.empty(int(offsets[-1]), np.uint8)
    for i, image in zip(where, images):  # each image's channels swapped straight into the batch's buffer
        data[offsets[i]:offsets[i + 1]].reshape(image.shape)[...] = swap_red_blue(image)
    binary = binary_column(offsets, data)  # < 2 GiB: see MAX_BATCH_BYTES
    origins: list[str | None] = [None] * n
    for i, record in zip(where, records):
        origins[i] = record.path
    heights, widths, channels = (pa.array(shapes[:, k].astype(np.int32)) for k in range(3))
    modes = pa.array(np.array([0] + [OPENCV_MODES.get(c, 0) for c in range(1, 5)], np.int32)[shapes[:, 2]])
    return pa.StructArray.from_arrays([pa.array(origins, pa.string()), heights, widths, channels, modes, binary],
                                      fields=list(_IMAGE_TYPE), mask=pa.array(~ok))


def _summary(decoded: DataFrame, files: DataFrame, options: Any) -> Any:
    """What the read found (counts, bad / unlabelled / ignored paths, label names, matched label rows), from two
    small jobs over the cached decode, plus the zero-byte files Spark's scan leaves out."""
    from zoo.feature.image.outcomes import Summary, summarise
    from zoo.feature.image.labels import strip_file_scheme
    from zoo.feature.image.reading import read_file

    summary = Summary()
    for row in decoded.groupBy("outcome", "labelName", "labelRow").count().collect():
        if row.outcome == "ok":
            summary.read += row["count"]
        if row.labelName is not None:
            summary.label_names.add(row.labelName)
        if row.labelRow is not None:
            summary.matched_rows.add(row.labelRow)
    seen = summary.read
    for row in decoded.where(F.col("outcome") != "ok").select("outcome", "path", "reason").collect():
        seen += 1
        if row.outcome == "bad":
            summary.skipped.append((row.path, row.reason))
        elif row.outcome == "unlabelled":
            summary.unlabelled.append(row.path)
        else:
            summary.ignored.append(row.path)
    listed = [strip_file_scheme(p) for p in files.inputFiles()]
    if len(listed) != seen:
        scanned = {row.path for row in decoded.select("path").collect()}
        missed = summarise(options, [read_file(p, b"", options) for p in sorted(set(listed) - scanned)])
        summary.skipped += missed.skipped
        summary.unlabelled += missed.unlabelled
        summary.ignored += missed.ignored
        summary.label_names |= missed.label_names
        summary.matched_rows |= missed.matched_rows
    return summary
