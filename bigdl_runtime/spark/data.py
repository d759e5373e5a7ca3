"""Training data on Spark: a DataFrame, an RDD or numpy arrays as one array block per partition.

Every sample gets a global index (its position in the input, from
``zipWithIndex``); sample ``i`` goes to partition ``i % N``; each partition
holds one :data:`Block`::

    (ids, xs, y)   ids: sorted int64 global indices (n_p,)
                   xs:  tuple of arrays (n_p, *feature_shape), one per model input: float32,
                        or int64 for integer features (token ids for an Embedding)
                   y:   labels (n_p, *label_shape) (int64 for integer labels), or None

so a task finds the samples of a global mini-batch with ``np.searchsorted(ids, batch)``.
Rows are validated while the blocks are built: each feature and label must
have the shape of row 0's, features must be numeric and labels numeric and
finite. A partition with a bad row holds a :class:`BadRow` instead of a
block (no task fails, so Spark retries nothing); the driver raises a
ValueError naming the lowest bad row's global index and column.

Accepted inputs:
    - a DataFrame with ``features_col`` (an array column, possibly nested, or an
      ml/mllib Vector column; a list of column names feeds a multi-input model)
      and ``label_col`` (numeric or array);
    - an RDD of ``(features, label)`` pairs (or of features alone when no
      labels are needed), features being array-likes or Vectors;
    - numpy arrays ``x`` (or a list of arrays for a multi-input model) and ``y``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import numpy as np
from pyspark import RDD, StorageLevel
from pyspark.sql import DataFrame, SparkSession

from ..train.trainer import _as_inputs
from .errors import tagged, worker_errors

Block = tuple[np.ndarray, tuple[np.ndarray, ...], "np.ndarray | None"]


class BadRow(NamedTuple):
    """What a partition holds instead of a block when one of its rows is invalid."""

    row: int
    message: str


@dataclass
class Blocks:
    """One :data:`Block` per partition of ``rdd`` and the total sample count ``size``."""

    rdd: RDD
    size: int

    @property
    def num_partitions(self) -> int:
        return self.rdd.getNumPartitions()

    def unpersist(self) -> None:
        self.rdd.unpersist()


def to_blocks(data: Any, y: Any = None, *, spark: SparkSession, num_partitions: int | None = None,
              features_col: str | Sequence[str] = "features", label_col: str | None = "label",
              labels: bool = True, what: str = "data") -> Blocks:
    """Convert ``data`` (DataFrame, RDD or numpy arrays, see the module doc) into validated, cached blocks.

    Args:
        data: the samples; for numpy input the features ``x``.
        y: labels for numpy input (must be None otherwise).
        spark: the session (numpy input is parallelized through it).
        num_partitions: partitions of the result; None keeps an RDD's or
            DataFrame's partitioning (no shuffle) and uses the default
            parallelism for numpy input.
        features_col, label_col: DataFrame columns.
        labels: False reads features only (labels are None in the blocks).
        what: names the data in errors (``"fit data"``, ``"validation data"``).

    Returns:
        the blocks, kept in memory (``unpersist()`` them when done); building
        them runs one Spark job, which validates every row.
    """
    sc = spark.sparkContext
    if num_partitions is not None and num_partitions < 1:
        raise ValueError(f"{what}: num_partitions must be >= 1, got {num_partitions}")
    if isinstance(data, (DataFrame, RDD)):
        if y is not None:
            raise ValueError(f"{what}: y is only for numpy input; a DataFrame or RDD carries its labels")
        rows, columns = _rows(data, features_col, label_col if labels else None, what)
        rdd = _rows_to_blocks(rows, columns, labels, num_partitions, what)
    else:
        rdd = _arrays_to_blocks(sc, data, y, labels, num_partitions or sc.defaultParallelism, what)
    rdd = rdd.persist(StorageLevel.MEMORY_ONLY)
    try:
        with worker_errors():
            found = rdd.map(lambda block: block if isinstance(block, BadRow) else len(block[0])).collect()
        bad = [b for b in found if isinstance(b, BadRow)]
        if bad:
            raise ValueError(min(bad).message)
        if sum(found) == 0:
            raise ValueError(f"{what}: no samples")
    except BaseException:
        rdd.unpersist()
        raise
    return Blocks(rdd, int(sum(found)))


# ------------------------------------------------------------------ numpy input
def _arrays_to_blocks(sc: Any, x: Any, y: Any, labels: bool, n_out: int, what: str) -> RDD:
    xs = [_feature_dtype(a) for a in _as_inputs(x, f"{what} x")]
    n = xs[0].shape[0]
    if labels:
        if y is None:
            raise ValueError(f"{what}: numpy features need labels y")
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{what}: {n} input samples but y has shape {y.shape}")
        bad = _not_finite(y)
        if bad is not None:
            raise ValueError(f"{what}: row {bad}: label is not finite")
    blocks = []
    for p in range(n_out):
        ids = np.arange(p, n, n_out, dtype=np.int64)
        blocks.append((ids, tuple(a[ids] for a in xs), y[ids] if labels else None))
    return sc.parallelize(blocks, n_out)


def _feature_dtype(a: np.ndarray) -> np.ndarray:
    """Integer features stay integers (int64: token ids for an Embedding); the rest becomes float32."""
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64, copy=False)
    return a.astype(np.float32, copy=False)


def _not_finite(y: np.ndarray) -> int | None:
    if not np.issubdtype(y.dtype, np.number):
        return None
    bad = ~np.isfinite(y.reshape(y.shape[0], -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


# ------------------------------------------------------------ DataFrame / RDD input
def _rows(data: DataFrame | RDD, features_col: str | Sequence[str], label_col: str | None,
          what: str) -> tuple[RDD, list[str]]:
    """``data`` as an RDD of ``(features tuple, label)`` and the column names for errors."""
    if isinstance(data, DataFrame):
        features = [features_col] if isinstance(features_col, str) else list(features_col)
        wanted = features + ([label_col] if label_col is not None else [])
        missing = [c for c in wanted if c not in data.columns]
        if missing:
            raise ValueError(f"{what}: DataFrame has no column(s) {missing}; its columns are {data.columns}")
        k, with_label = len(features), label_col is not None
        rows = data.select(*wanted).rdd.map(lambda r: (tuple(r[:k]), r[k] if with_label else None))
        return rows, wanted
    if label_col is None:
        return data.map(lambda f: ((f,), None)), ["features"]
    return data.map(tagged(_pair)), ["features", "label"]


def _pair(record: Any) -> tuple[tuple[Any], Any]:
    if not isinstance(record, (tuple, list)) or len(record) != 2:
        raise ValueError(f"RDD elements must be (features, label) pairs, got {type(record).__name__} "
                         f"{str(record)[:80]}")
    return (record[0],), record[1]


def _identity(key: int) -> int:
    return key


def _rows_to_blocks(rows: RDD, columns: list[str], labels: bool, n_out: int | None, what: str) -> RDD:
    with worker_errors():
        head = rows.take(1)
    if not head:
        raise ValueError(f"{what}: no samples")
    first = head[0]
    firsts = [_as_row_array(v, 0, c, what) for v, c in zip(first[0], columns)]
    shapes = tuple((a.shape, a.dtype.str) for a in firsts)
    label_shape = np.shape(_as_label(first[1], 0, columns[-1], what)) if labels else None
    indexed = rows.zipWithIndex().map(lambda pair: (pair[1], pair[0]))
    if n_out is not None:
        indexed = indexed.partitionBy(n_out, _identity)
    build = functools.partial(_build_block, shapes=shapes, label_shape=label_shape, columns=columns, what=what)
    return indexed.mapPartitions(tagged(build), preservesPartitioning=True)


def _build_block(rows: Iterable[tuple[int, tuple[tuple[Any, ...], Any]]], shapes: tuple[tuple[tuple[int, ...], str], ...],
                 label_shape: tuple[int, ...] | None, columns: list[str], what: str) -> Iterator[Block | BadRow]:
    rows = sorted(rows, key=lambda r: r[0])
    try:
        yield _block(rows, shapes, label_shape, columns, what)
    except _RowError as err:
        yield BadRow(err.row, str(err))


class _RowError(ValueError):
    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row


def _block(rows: list[tuple[int, tuple[tuple[Any, ...], Any]]], shapes: tuple[tuple[tuple[int, ...], str], ...],
           label_shape: tuple[int, ...] | None, columns: list[str], what: str) -> Block:
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    xs = []
    for j, ((shape, dtype), column) in enumerate(zip(shapes, columns)):
        x = np.empty((len(rows), *shape), dtype=dtype)
        for i, (index, (features, _)) in enumerate(rows):
            value = _as_row_array(features[j], index, column, what)
            if value.shape != shape:
                raise _RowError(index, f"{what}: row {index}, column '{column}': feature shape {value.shape} "
                                       f"differs from row 0's {shape}")
            if value.dtype != x.dtype:
                raise _RowError(index, f"{what}: row {index}, column '{column}': {value.dtype} features where "
                                       f"row 0 has {x.dtype} ones (integer ids and real values do not mix)")
            x[i] = value
        xs.append(x)
    y = None
    if label_shape is not None:
        values = []
        for index, (_, label) in rows:
            value = _as_label(label, index, columns[-1], what)
            if np.shape(value) != label_shape:
                raise _RowError(index, f"{what}: row {index}, column '{columns[-1]}': label shape "
                                       f"{np.shape(value)} differs from row 0's {label_shape}")
            values.append(value)
        y = np.array(values).reshape(len(rows), *label_shape)
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
        return _feature_dtype(array)
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
