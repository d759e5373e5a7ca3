"""ImageRecords as Arrow rows: how a distributed ImageSet holds its images (never pickled records).

One row per record: ``path``, ``index``, ``label``, ``labelName``, the image as
``shape`` (list of ints), ``dtype`` (numpy's name) and ``data`` (its bytes, C
order), and the detection ``boxes`` (float32 ``(N, 4)`` bytes) and
``boxLabels`` (int64 bytes), null when the record has none. A batch is built
on one buffer per column (:func:`records_batch`) and read back with one view
per record into the batch's buffer (:func:`batch_records`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.types import (ArrayType, BinaryType, IntegerType, LongType, StringType, StructField,
                               StructType)

from bigdl_runtime.spark.arrow import binary_buffers, binary_column

from .record import ImageRecord

RECORD_FIELDS = ("path", "index", "label", "labelName", "shape", "dtype", "data", "boxes", "boxLabels")


def record_schema() -> StructType:
    """The Spark schema of record rows (what ``mapInArrow`` tasks building records declare)."""
    return StructType([StructField("path", StringType()), StructField("index", LongType()),
                       StructField("label", LongType()), StructField("labelName", StringType()),
                       StructField("shape", ArrayType(IntegerType(), False), False),
                       StructField("dtype", StringType(), False), StructField("data", BinaryType(), False),
                       StructField("boxes", BinaryType()), StructField("boxLabels", BinaryType())])


def records_batch(records: Sequence[ImageRecord]) -> pa.RecordBatch:
    """``records`` as one Arrow batch of :data:`RECORD_FIELDS` (< 2 GiB of pixels)."""
    images = [np.ascontiguousarray(r.image) for r in records]
    shapes = pa.array([list(image.shape) for image in images], pa.list_(pa.field("element", pa.int32(), False)))
    return pa.RecordBatch.from_arrays(
        [pa.array([r.path for r in records], pa.string()), pa.array([r.index for r in records], pa.int64()),
         pa.array([r.label for r in records], pa.int64()), pa.array([r.label_name for r in records], pa.string()),
         shapes, pa.array([image.dtype.name for image in images], pa.string()), _bytes_column(images),
         _bytes_column([None if r.boxes is None else np.asarray(r.boxes, np.float32) for r in records]),
         _bytes_column([None if r.box_labels is None else np.asarray(r.box_labels, np.int64) for r in records])],
        names=list(RECORD_FIELDS))


def batch_records(batch: pa.RecordBatch | pa.Table) -> list[ImageRecord]:
    """The records of a batch (or table) of :data:`RECORD_FIELDS` rows; the images are copies (writable)."""
    if isinstance(batch, pa.Table):
        return [r for b in batch.combine_chunks().to_batches() for r in batch_records(b)]
    columns = {name: batch.column(name) for name in RECORD_FIELDS}
    paths, indices, labels, names, dtypes = (columns[k].to_pylist()
                                             for k in ("path", "index", "label", "labelName", "dtype"))
    shapes = columns["shape"].to_pylist()
    images = _arrays(columns["data"], [np.dtype(d) for d in dtypes], shapes)
    n = batch.num_rows
    boxes = _arrays(columns["boxes"], [np.dtype(np.float32)] * n, [(-1, 4)] * n)
    box_labels = _arrays(columns["boxLabels"], [np.dtype(np.int64)] * n, [(-1,)] * n)
    return [ImageRecord(image=images[i], path=paths[i], label=labels[i], label_name=names[i], index=indices[i],
                        boxes=boxes[i], box_labels=box_labels[i]) for i in range(n)]


def tensor_column(records: Sequence[ImageRecord]) -> pa.BinaryArray:
    """Each record's image cast to float32, as its bytes in C order (a model input cell, see
    :mod:`bigdl_runtime.spark.arrow`), cast straight into one buffer."""
    sizes = np.array([r.image.size for r in records], np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    data = np.empty(int(offsets[-1]), np.float32)
    for i, record in enumerate(records):
        data[offsets[i]:offsets[i + 1]] = record.image.ravel()
    return binary_column(offsets * 4, data)


def _bytes_column(arrays: Sequence[np.ndarray | None]) -> pa.BinaryArray:
    """Each array's bytes as one binary cell (null for None), on one data buffer."""
    sizes = np.array([0 if a is None else a.nbytes for a in arrays], np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    data = np.empty(int(offsets[-1]), np.uint8)
    for i, array in enumerate(arrays):
        if array is not None:
            data[offsets[i]:offsets[i + 1]] = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    column = binary_column(offsets, data)
    if all(a is not None for a in arrays):
        return column
    return pc.if_else(pa.array([a is not None for a in arrays]), column, pa.nulls(len(arrays), pa.binary()))


def _arrays(column: pa.Array, dtypes: list[np.dtype], shapes: list) -> list[np.ndarray | None]:
    offsets, raw = binary_buffers(column)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return [raw[offsets[i]:offsets[i + 1]].view(dtypes[i]).reshape(shapes[i]).copy() if valid[i] else None
            for i in range(len(column))]
