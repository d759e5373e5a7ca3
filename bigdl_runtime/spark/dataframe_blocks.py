"""DataFrame training data through Arrow: one ``mapInArrow`` decodes the feature and label columns into
chunks of records (see :func:`~bigdl_runtime.spark.data.to_blocks` and the module doc of
:mod:`bigdl_runtime.spark.data`)."""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from pyspark import RDD, StorageLevel, TaskContext
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import DataFrame
from pyspark.sql.types import (ArrayType, BinaryType, BooleanType, DataType, DoubleType, IntegralType, NumericType,
                               UserDefinedType)

from .arrow import BadCell, tensors
from .blocks import Block, first_not_finite, rows_per_record
from .errors import streamed, worker_errors

#: What a decode task yields per chunk of at most ``record_bytes`` of an Arrow batch (``shapes``: a JSON list of
#: each column's sample shape, ``data``: the chunk's arrays' bytes one after the other), or once per partition
#: that ends at a bad row (``bad``: its position in the partition, ``message``: what is wrong, ``shapes``: those of
#: the batch's first row when that row is good, ``rows`` 0)
_CHUNKS = "partition int, start long, rows long, shapes string, bad long, message string, data binary"


@dataclass(frozen=True)
class _Columns:
    """The DataFrame columns a decode task reads (features, then the label if ``labelled``) and their dtypes."""

    names: tuple[str, ...]
    dtypes: tuple[str, ...]
    labelled: bool
    record_bytes: int
    #: per column, the sample shape of a binary column (None: the cells carry their shape)
    shapes: tuple[tuple[int, ...] | None, ...]

    def is_label(self, j: int) -> bool:
        return self.labelled and j == len(self.names) - 1


def dataframe_to_blocks(df: DataFrame, features_col: str | Sequence[str], label_col: str | None,
                         n_out: int | None, record_bytes: int, what: str,
                         feature_shape: Sequence[int] | None = None) -> tuple[RDD, DataFrame]:
    """Blocks (uncached) from ``df``'s Arrow batches, and the cached decode they are built from (unpersist it
    once the blocks are cached).

    One ``mapInArrow`` decodes every Arrow batch of the wanted columns to numpy (:func:`_decode_batches`) and is
    cached; a small job over its chunk metadata finds the lowest bad row, or each partition's row count, which gives
    the global ids (the positions ``zipWithIndex`` gives: partition order, then order within the partition).
    """
    features = [features_col] if isinstance(features_col, str) else list(features_col)
    wanted = features + ([label_col] if label_col is not None else [])
    missing = [c for c in wanted if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: DataFrame has no column(s) {missing}; its columns are {df.columns}")
    selected = df.select(*wanted)
    labelled = label_col is not None
    binary = [isinstance(f.dataType, BinaryType) and not (labelled and j == len(wanted) - 1)
              for j, f in enumerate(selected.schema.fields)]
    if any(binary) and feature_shape is None:
        raise ValueError(f"{what}: column '{wanted[binary.index(True)]}' is binary: give feature_shape, the shape "
                         "of the float32 sample each cell holds as raw bytes")
    dtypes = tuple("<f4" if binary[j] else
                   _column_dtype(selected.schema.fields[j].dataType, c, labelled and j == len(wanted) - 1, what)
                   for j, c in enumerate(wanted))
    shapes = tuple(tuple(int(d) for d in feature_shape) if b else None for b in binary)
    spec = _Columns(tuple(wanted), dtypes, labelled, record_bytes, shapes)
    decoded = selected.mapInArrow(streamed(functools.partial(_decode_batches, spec=spec)), _CHUNKS)
    decoded = decoded.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with worker_errors():
            chunks = decoded.select("partition", "start", "rows", "shapes", "bad", "message").collect()
        offsets, shapes = _offsets(chunks, spec, what)
        per_record = rows_per_record(sum(math.prod(s) * np.dtype(t).itemsize for s, t in zip(shapes, dtypes)),
                                     record_bytes)
        empty = _empty_record(shapes, spec)
        records = decoded.select("partition", "start", "rows", "data").rdd.map(
            functools.partial(_chunk_record, offsets=offsets, shapes=shapes, spec=spec))
        if n_out is None:
            rdd = records.mapPartitions(functools.partial(_or_empty, empty=empty), preservesPartitioning=True)
        else:  # sample i to partition i % N: pieces keyed by their first id, sorted by PySpark's external sort
            pieces = records.flatMap(functools.partial(_pieces, n_out=n_out))
            rdd = pieces.repartitionAndSortWithinPartitions(n_out, functools.partial(_modulo, n=n_out)).mapPartitions(
                streamed(functools.partial(_merged, rows_per_record=per_record, empty=empty)),
                preservesPartitioning=True)
    except BaseException:
        decoded.unpersist()
        raise
    return rdd, decoded


def _column_dtype(data_type: DataType, column: str, label: bool, what: str) -> str:
    """The decoded dtype of a column: int64 for integers, else float32 features and float64 (or bool) labels."""
    leaf = data_type
    if isinstance(leaf, UserDefinedType) and leaf.sqlType() == VectorUDT.sqlType():
        leaf = DoubleType()
    while isinstance(leaf, ArrayType):
        leaf = leaf.elementType
    if isinstance(leaf, IntegralType):
        return "<i8"
    if isinstance(leaf, (NumericType, BooleanType)):
        return ("|b1" if isinstance(leaf, BooleanType) else "<f8") if label else "<f4"
    kind = "labels must be numbers or numeric arrays" if label else \
        "features must be a numeric array (possibly nested), an ml Vector or a number"
    raise ValueError(f"{what}: column '{column}' is {data_type.simpleString()}: {kind}")


def _decode_batches(batches: Iterable[pa.RecordBatch], spec: _Columns) -> Iterator[pa.RecordBatch]:
    """The decode task: each Arrow batch as chunks of numpy arrays' bytes (:data:`_CHUNKS`); the partition ends at
    its first bad row (the rest of its batches are read and dropped)."""
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    start = 0
    batches = iter(batches)
    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        try:
            arrays = _batch_arrays(batch, spec)
        except _BadBatch:
            row, text, shapes = _first_bad(batch, spec)
            yield _chunk_batch(partition, [start], [0], [shapes], [start + row], [text], [b""])
            for _ in batches:
                pass
            return
        shapes = json.dumps([a.shape[1:] for a in arrays])
        step = rows_per_record(sum(a[:1].nbytes for a in arrays), spec.record_bytes)
        cuts = range(0, n, step)
        yield _chunk_batch(partition, [start + lo for lo in cuts], [min(step, n - lo) for lo in cuts],
                           [shapes] * len(cuts), [None] * len(cuts), [None] * len(cuts),
                           [b"".join(a[lo:lo + step].tobytes() for a in arrays) for lo in cuts])
        start += n


def _chunk_batch(partition: int, starts: list[int], rows: list[int], shapes: list[str | None],
                 bad: list[int | None], message: list[str | None], data: list[bytes]) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [pa.array([partition] * len(starts), pa.int32()), pa.array(starts, pa.int64()), pa.array(rows, pa.int64()),
         pa.array(shapes, pa.string()), pa.array(bad, pa.int64()), pa.array(message, pa.string()),
         pa.array(data, pa.binary())],
        names=["partition", "start", "rows", "shapes", "bad", "message", "data"])


class _BadBatch(Exception):
    """A batch holds a bad row (:func:`_first_bad` finds the lowest)."""


def _batch_arrays(batch: pa.RecordBatch, spec: _Columns) -> list[np.ndarray]:
    """The batch's columns as ``(rows, *shape)`` arrays, each of its first row's shape; _BadBatch if any row is
    bad."""
    arrays = []
    for j in range(batch.num_columns):
        try:
            arrays.append(tensors(batch.column(j), spec.shapes[j], np.dtype(spec.dtypes[j])))
        except BadCell:
            raise _BadBatch from None
    if spec.labelled and first_not_finite(arrays[-1]) is not None:
        raise _BadBatch
    return arrays


def _first_bad(batch: pa.RecordBatch, spec: _Columns) -> tuple[int, str, str | None]:
    """A bad batch's lowest bad row, what is wrong with it (its first bad column's problem) and, when the batch's
    first row is good, its shapes (JSON)."""
    stop, lowest = batch.num_rows, None
    while stop:   # the lowest bad row a check of rows 0 .. stop-1 finds; then look below it
        part = batch.slice(0, stop)
        found = [r for r in (_first_bad_in(part.column(j), spec, j) for j in range(batch.num_columns))
                 if r is not None]
        if not found:
            break
        lowest = stop = min(found)
    if lowest is None:
        raise RuntimeError("internal error: a batch failed to decode but no row of it is bad")
    firsts = None if lowest == 0 else [tensors(batch.column(j).slice(0, 1), spec.shapes[j],
                                               np.dtype(spec.dtypes[j])).shape[1:] for j in range(batch.num_columns)]
    for j in range(batch.num_columns):
        text = _cell_problem(batch.column(j).slice(lowest, 1), spec, j, firsts[j] if firsts else None)
        if text is not None:
            return lowest, f"column '{spec.names[j]}': {text}", json.dumps(firsts) if firsts else None
    raise RuntimeError(f"internal error: row {lowest} of a batch fails to decode but none of its cells is bad")


def _first_bad_in(column: pa.Array, spec: _Columns, j: int) -> int | None:
    """Some bad row of a column (rows of another shape than its first row's, nulls, non-finite labels)."""
    try:
        values = tensors(column, spec.shapes[j], np.dtype(spec.dtypes[j]))
    except BadCell as err:
        return err.row
    return first_not_finite(values) if spec.is_label(j) else None


def _cell_problem(cell: pa.Array, spec: _Columns, j: int, expected: tuple[int, ...] | None) -> str | None:
    """What is wrong with one cell (a one-row column), given the batch's first row's shape (None: it is that row)."""
    label = spec.is_label(j)
    if cell.null_count:
        return "label is null" if label else "features are null"
    try:
        value = tensors(cell, spec.shapes[j], np.dtype(spec.dtypes[j]))
    except BadCell as err:
        return f"label {str(cell[0].as_py())[:80]} is not a numeric array ({err.message})" if label else err.message
    shape = value.shape[1:]
    if expected is not None and shape != tuple(expected):
        return f"{'label' if label else 'feature'} shape {shape} differs from row 0's {tuple(expected)}"
    if label and first_not_finite(value) is not None:
        return f"label {cell[0].as_py()!r} is not finite"
    return None


def _offsets(chunks: list[Any], spec: _Columns, what: str) -> tuple[dict[int, int], list[tuple[int, ...]]]:
    """Each partition's first global id and row 0's shapes, from the decode's chunk metadata.

    Raises:
        ValueError: naming the lowest bad row (a row of a partition's bad batch, or the first row of a batch whose
            shapes differ from row 0's), or when there are no samples.
    """
    chunks = sorted(chunks, key=lambda c: (c.partition, c.start, c.bad is not None))
    first = next((c.shapes for c in chunks if c.shapes is not None), None)
    bad: dict[int, tuple[int, str]] = {}        # partition -> its lowest bad row and what is wrong
    counts: dict[int, int] = {}
    for c in chunks:
        counts[c.partition] = counts.get(c.partition, 0) + c.rows
        if c.partition in bad:
            continue
        if c.shapes is not None and c.shapes != first:
            shapes, expected = json.loads(c.shapes), json.loads(first)
            j = next(j for j in range(len(shapes)) if shapes[j] != expected[j])
            kind = "label" if spec.is_label(j) else "feature"
            bad[c.partition] = (c.start, f"column '{spec.names[j]}': {kind} shape {tuple(shapes[j])} differs from "
                                         f"row 0's {tuple(expected[j])}")
        elif c.bad is not None:
            bad[c.partition] = (c.bad, c.message)
    offsets, total = {}, 0
    for p in sorted(counts):
        if p in bad:
            row, message = bad[p]
            raise ValueError(f"{what}: row {total + row}, {message}")
        offsets[p] = total
        total += counts[p]
    if total == 0:
        raise ValueError(f"{what}: no samples")
    return offsets, [tuple(s) for s in json.loads(first)]


def _chunk_record(chunk: Any, offsets: dict[int, int], shapes: list[tuple[int, ...]], spec: _Columns) -> Block:
    """A decoded chunk as a record with its global ids."""
    n = chunk.rows
    arrays, at = [], 0
    for shape, dtype in zip(shapes, spec.dtypes):
        count = n * math.prod(shape)
        arrays.append(np.frombuffer(chunk.data, np.dtype(dtype), count, at).reshape(n, *shape))
        at += count * np.dtype(dtype).itemsize
    ids = np.arange(n, dtype=np.int64) + (offsets[chunk.partition] + chunk.start)
    if spec.labelled:
        return ids, tuple(arrays[:-1]), arrays[-1]
    return ids, tuple(arrays), None


def _empty_record(shapes: list[tuple[int, ...]], spec: _Columns) -> Block:
    arrays = [np.empty((0, *s), np.dtype(t)) for s, t in zip(shapes, spec.dtypes)]
    ids = np.empty(0, np.int64)
    return (ids, tuple(arrays[:-1]), arrays[-1]) if spec.labelled else (ids, tuple(arrays), None)


def _or_empty(records: Iterable[Block], empty: Block) -> Iterator[Block]:
    """A partition's records, or one empty record for a partition without any."""
    built = False
    for record in records:
        built = True
        yield record
    if not built:
        yield empty


def _pieces(record: Block, n_out: int) -> Iterator[tuple[int, Block]]:
    """A record cut by destination partition (id mod N), each piece keyed by its first id."""
    ids, xs, y = record
    for p in range(n_out):
        take = slice((p - int(ids[0])) % n_out, None, n_out) if ids.size else slice(0, 0)
        piece = ids[take]
        if piece.size:
            yield int(piece[0]), (piece, tuple(x[take] for x in xs), None if y is None else y[take])


def _modulo(key: int, n: int) -> int:
    return key % n


def _merged(pieces: Iterable[tuple[int, Block]], rows_per_record: int, empty: Block) -> Iterator[Block]:
    """A partition's pieces, in ascending id order, as records of ``rows_per_record`` rows (the last one shorter);
    one empty record when there are none."""
    pending: list[Block] = []
    count, built = 0, False
    for _, piece in pieces:
        while piece[0].size:
            take = min(rows_per_record - count, piece[0].size)
            pending.append((piece[0][:take], tuple(x[:take] for x in piece[1]),
                            None if piece[2] is None else piece[2][:take]))
            piece = (piece[0][take:], tuple(x[take:] for x in piece[1]), None if piece[2] is None else piece[2][take:])
            count += take
            if count == rows_per_record:
                yield _concatenated(pending)
                pending, count, built = [], 0, True
    if pending or not built:
        yield _concatenated(pending) if pending else empty


def _concatenated(parts: list[Block]) -> Block:
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]), tuple(np.concatenate(xs) for xs in zip(*(p[1] for p in parts))),
            None if parts[0][2] is None else np.concatenate([p[2] for p in parts]))


