"""RDD training data: ``(features, label)`` pairs (or features alone) already in Python, turned into
records row by row (see :func:`~bigdl_runtime.spark.data.to_blocks`)."""
from __future__ import annotations

import functools
from typing import Any, Iterable, Iterator

import numpy as np
from pyspark import RDD

from .blocks import BadRow, Block, feature_dtype, identity_partition, rows_per_record
from .errors import streamed, tagged, worker_errors

def rows(data: RDD, label_col: str | None) -> tuple[RDD, list[str]]:
    """An RDD as one of ``(features tuple, label)`` and the column names for errors."""
    if label_col is None:
        return data.map(lambda f: ((f,), None)), ["features"]
    return data.map(tagged(_pair)), ["features", "label"]


def _pair(record: Any) -> tuple[tuple[Any], Any]:
    if not isinstance(record, (tuple, list)) or len(record) != 2:
        raise ValueError(f"RDD elements must be (features, label) pairs, got {type(record).__name__} "
                         f"{str(record)[:80]}")
    return (record[0],), record[1]


#: feature (shape, dtype) per input column; the label's (shape, dtype) or None
_Shapes = tuple[tuple[tuple[int, ...], str], ...]
_LabelSpec = tuple[tuple[int, ...], str] | None
_Row = tuple[int, tuple[tuple[Any, ...], Any]]


def rows_to_blocks(rows: RDD, columns: list[str], labels: bool, n_out: int | None, record_bytes: int,
                    what: str) -> RDD:
    with worker_errors():
        head = rows.take(1)
    if not head:
        raise ValueError(f"{what}: no samples")
    first = head[0]
    firsts = [_as_row_array(v, 0, c, what) for v, c in zip(first[0], columns)]
    shapes = tuple((a.shape, a.dtype.str) for a in firsts)
    label = np.asarray(_as_label(first[1], 0, columns[-1], what)) if labels else None
    label_spec = (label.shape, label.dtype.str) if label is not None else None
    row_bytes = sum(a.nbytes for a in firsts) + (label.nbytes if label is not None else 0)
    indexed = rows.zipWithIndex().map(lambda pair: (pair[1], pair[0]))  # ascending within each partition
    if n_out is not None:  # sample i to partition i % N, sorted by PySpark's external sort (spills to disk)
        indexed = indexed.repartitionAndSortWithinPartitions(n_out, identity_partition)
    build = functools.partial(_build_records, shapes=shapes, label_spec=label_spec, columns=columns, what=what,
                              rows_per_record=rows_per_record(row_bytes, record_bytes))
    return indexed.mapPartitions(streamed(build), preservesPartitioning=True)


def _build_records(rows: Iterable[_Row], shapes: _Shapes, label_spec: _LabelSpec, columns: list[str], what: str,
                   rows_per_record: int) -> Iterator[Block | BadRow]:
    """Rows in ascending index order -> records of ``rows_per_record`` rows (the last one shorter).

    A partition without rows gets one empty record; the first bad row ends the partition with its BadRow.
    """
    chunk: list[_Row] = []
    built = False
    try:
        for row in rows:
            chunk.append(row)
            if len(chunk) == rows_per_record:
                yield _block(chunk, shapes, label_spec, columns, what)
                chunk, built = [], True
        if chunk or not built:
            yield _block(chunk, shapes, label_spec, columns, what)
    except _RowError as err:
        yield BadRow(err.row, str(err))


class _RowError(ValueError):
    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


def _block(rows: list[_Row], shapes: _Shapes, label_spec: _LabelSpec, columns: list[str], what: str) -> Block:
    """One record; rows are checked in order, so a _RowError names the lowest bad row."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    xs = [np.empty((len(rows), *shape), dtype=dtype) for shape, dtype in shapes]
    values = []
    for i, (index, (features, label)) in enumerate(rows):
        for x, (shape, _), column, feature in zip(xs, shapes, columns, features):
            value = _as_row_array(feature, index, column, what)
            if value.shape != shape:
                raise _RowError(index, f"{what}: row {index}, column '{column}': feature shape {value.shape} "
                                       f"differs from row 0's {shape}")
            if value.dtype != x.dtype:
                raise _RowError(index, f"{what}: row {index}, column '{column}': {value.dtype} features where "
                                       f"row 0 has {x.dtype} ones (integer ids and real values do not mix)")
            x[i] = value
        if label_spec is not None:
            value = _as_label(label, index, columns[-1], what)
            if np.shape(value) != label_spec[0]:
                raise _RowError(index, f"{what}: row {index}, column '{columns[-1]}': label shape "
                                       f"{np.shape(value)} differs from row 0's {label_spec[0]}")
            values.append(value)
    y = None
    if label_spec is not None:
        shape, dtype = label_spec
        y = np.array(values).reshape(len(rows), *shape) if values else np.empty((0, *shape), dtype)
    return ids, tuple(xs), y


def _as_row_array(value: Any, index: int, column: str, what: str) -> np.ndarray:
    if value is None:
        raise _RowError(index, f"{what}: row {index}, column '{column}': features are null")
    if hasattr(value, "toArray"):  # pyspark.ml / mllib vectors, dense or sparse
        value = value.toArray()
    try:
        array = np.asarray(value)
        if array.dtype == object:
            array = np.asarray(value, dtype=np.float32)  # ragged or non-numeric: raises here
        return feature_dtype(array)
    except (ValueError, TypeError) as err:
        raise _RowError(index, f"{what}: row {index}, column '{column}': features are not a numeric array "
                               f"({str(err).splitlines()[0]})") from None


def _as_label(value: Any, index: int, column: str, what: str) -> Any:
    if value is None:
        raise _RowError(index, f"{what}: row {index}, column '{column}': label is null")
    if hasattr(value, "toArray"):
        value = value.toArray()
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise _RowError(index, f"{what}: row {index}, column '{column}': label {value!r} is not numeric")
    if not np.isfinite(array).all():
        raise _RowError(index, f"{what}: row {index}, column '{column}': label {value!r} is not finite")
    return array if array.ndim else array.item()


