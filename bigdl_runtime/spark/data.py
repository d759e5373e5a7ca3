"""Training data on Spark: cached blocks of records of a few MB, and the per-epoch layout that lets a
training iteration read only its own samples.

**Base blocks** (:func:`to_blocks`). Every sample gets a global index (its position in the input,
as ``zipWithIndex`` numbers it). With ``num_partitions`` given (as ``fit`` does), sample ``i`` goes to
partition ``i % N``; otherwise the input's partitioning is kept. Each partition is a sequence of
records, each a :data:`Block`::

    (ids, xs, y)   ids: int64 global indices (n_r,), ascending, and above the previous record's
                   xs:  tuple of arrays (n_r, *feature_shape), one per model input: float32,
                        or int64 for integer features (token ids for an Embedding)
                   y:   labels (n_r, *label_shape) (int64 for integer labels), or None

of at most ``record_bytes`` of arrays (:data:`RECORD_BYTES`, 4 MB; a sample larger than that is a
record of its own). Every partition holds at least one record; records may be empty (a partition
with fewer samples than records). Small records keep every pickled object far below the JVM's
2 GB array limit, and the building task streams them out one by one, so a partition of any size
can be built and cached (``MEMORY_AND_DISK``: what does not fit in memory goes to local disk).
Every consumer (validation, ``evaluate``, ``predict``, the epoch layout, the gang mode) iterates
over all records of its partition.

**DataFrames go through Arrow** (:func:`_dataframe_to_blocks`): one ``mapInArrow`` over the feature and
label columns decodes each Arrow batch to numpy (:func:`~bigdl_runtime.spark.arrow.tensors`: array,
nested array, Vector and number columns, no Python loop over rows) and yields it as chunks of at most
``record_bytes`` (the arrays' raw bytes in one binary cell, with the partition and the chunk's first
position in it). That decode is cached once (``MEMORY_AND_DISK``, released when the blocks are built);
a job over its small columns gives each partition's row count, hence every row's global id exactly as
``zipWithIndex`` numbers them (partition order, then position), or the lowest bad row. The chunks then
become records: as they are, keeping the DataFrame's partitioning, or cut into pieces by ``id % N``,
keyed by their first id and merged in id order on the other side of one shuffle. RDDs of pairs still go
row by row (they hold Python objects already); numpy input is sliced on the driver.

Rows are validated while the records are built: each feature and label must have the shape of row
0's, features must be numeric and labels numeric and finite. A partition ends at its first bad row
with a :class:`BadRow` (no task fails, so Spark retries nothing); the driver raises a ValueError
naming the lowest bad row's global index and column. For a DataFrame the column types are checked
on the driver, and a decode task ends its partition at the first batch holding a bad row, reporting
that batch's lowest bad row (its first bad column); a batch whose first row differs in shape from
row 0 is reported at that first row.

**Epoch layout** (:class:`EpochLayout`, per-iteration jobs mode). For epoch ``e``, global batch
``k`` is positions ``k*B .. (k+1)*B`` of :class:`~bigdl_runtime.train.trainer.EpochOrder` ``(e)``
(LocalTrainer's order). One shuffle, built once per epoch on first use, sends every sample of
batch ``k`` with id ``p`` mod ``N`` (all in base partition ``p``) to shuffle partition ``k*N + p``,
as :data:`Piece` s. The shuffle output is not cached: its files are the layout. Iteration ``k``
runs on an RDD of just partitions ``kN .. kN+N-1`` (a ``PartitionPruningRDD``), whose tasks fetch
only their own shuffle blocks; :func:`batch_share` puts a task's pieces in batch order. So an
iteration reads its batch and nothing else, and each epoch reads the dataset once (the map stage,
which runs inside the epoch's first iteration job). Lost shuffle files are rewritten by Spark from
the blocks; the map side is deterministic, so a retry reads the same samples.

Accepted inputs:
    - a DataFrame with ``features_col`` (an array column, possibly nested, or an
      ml/mllib Vector column, or a ``binary`` column of raw float32 samples of the
      given ``feature_shape``; a list of column names feeds a multi-input model)
      and ``label_col`` (numeric or array);
    - an RDD of ``(features, label)`` pairs (or of features alone when no
      labels are needed), features being array-likes or Vectors;
    - numpy arrays ``x`` (or a list of arrays for a multi-input model) and ``y``.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import numpy as np
import pyarrow as pa
from pyspark import RDD, Broadcast, StorageLevel, TaskContext
from pyspark.ml.linalg import VectorUDT
from pyspark.serializers import BatchedSerializer, CPickleSerializer, pack_long
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (ArrayType, BinaryType, BooleanType, DataType, DoubleType, IntegralType, NumericType,
                               UserDefinedType)

from ..train.trainer import EpochOrder, _as_inputs
from .arrow import BadCell, tensors
from .errors import streamed, tagged, worker_errors

#: Largest record of the cached blocks, in bytes of arrays (one sample larger than this is a record of its own).
RECORD_BYTES = 4 << 20

#: One record: ``(ids, xs, y)``, see the module doc.
Block = tuple[np.ndarray, tuple[np.ndarray, ...], "np.ndarray | None"]
#: Some samples of one (iteration, partition) share of the epoch layout: ``(epoch positions, ids, xs, y)``.
Piece = tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...], "np.ndarray | None"]


class BadRow(NamedTuple):
    """What ends a partition at its first invalid row."""

    row: int
    message: str


@dataclass
class Blocks:
    """Records (:data:`Block`) in the ``num_partitions`` partitions of ``rdd``, and the total sample count ``size``."""

    rdd: RDD
    size: int

    @property
    def num_partitions(self) -> int:
        return self.rdd.getNumPartitions()

    def unpersist(self) -> None:
        self.rdd.unpersist()


def to_blocks(data: Any, y: Any = None, *, spark: SparkSession, num_partitions: int | None = None,
              features_col: str | Sequence[str] = "features", label_col: str | None = "label",
              labels: bool = True, what: str = "data", record_bytes: int = RECORD_BYTES,
              feature_shape: Sequence[int] | None = None) -> Blocks:
    """Convert ``data`` (DataFrame, RDD or numpy arrays, see the module doc) into validated, cached blocks.

    Args:
        data: the samples; for numpy input the features ``x``.
        y: labels for numpy input (must be None otherwise).
        spark: the session (numpy input is parallelized through it).
        num_partitions: partitions of the result (sample ``i`` in partition
            ``i % num_partitions``); None keeps an RDD's or DataFrame's
            partitioning (no shuffle) and uses the default parallelism for numpy input.
        features_col, label_col: DataFrame columns.
        labels: False reads features only (labels are None in the blocks).
        what: names the data in errors (``"fit data"``, ``"validation data"``).
        record_bytes: the largest record, in bytes of arrays.
        feature_shape: the sample shape of a DataFrame's ``binary`` features
            columns (each cell one sample's float32 values as raw bytes, the
            cheapest form to ship); other columns carry their own shape.

    Returns:
        the blocks, cached (``unpersist()`` them when done); building them
        runs one Spark job, which validates every row (for a DataFrame two:
        the Arrow decode, which validates, then the records).
    """
    sc = spark.sparkContext
    if num_partitions is not None and num_partitions < 1:
        raise ValueError(f"{what}: num_partitions must be >= 1, got {num_partitions}")
    if record_bytes < 1:
        raise ValueError(f"{what}: record_bytes must be >= 1, got {record_bytes}")
    decoded = None      # a DataFrame's cached decode, which the blocks are built from
    if isinstance(data, (DataFrame, RDD)) and y is not None:
        raise ValueError(f"{what}: y is only for numpy input; a DataFrame or RDD carries its labels")
    if isinstance(data, DataFrame):
        rdd, decoded = _dataframe_to_blocks(data, features_col, label_col if labels else None, num_partitions,
                                            record_bytes, what, feature_shape)
    elif isinstance(data, RDD):
        rows, columns = _rows(data, label_col if labels else None)
        rdd = _rows_to_blocks(rows, columns, labels, num_partitions, record_bytes, what)
    else:
        rdd = _arrays_to_blocks(sc, data, y, labels, num_partitions or sc.defaultParallelism, record_bytes, what)
    rdd = rdd.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        census = functools.partial(_census, num_partitions=num_partitions)
        with worker_errors():
            found = rdd.mapPartitionsWithIndex(tagged(census)).collect()
        bad = [b for b in found if isinstance(b, BadRow)]
        if bad:
            raise ValueError(min(bad).message)
        if sum(found) == 0:
            raise ValueError(f"{what}: no samples")
    except BaseException:
        rdd.unpersist()
        raise
    finally:
        if decoded is not None:
            decoded.unpersist()
    return Blocks(rdd, int(sum(found)))


def _census(partition: int, records: Iterable[Block | BadRow], num_partitions: int | None) -> Iterator[int | BadRow]:
    """A partition's sample count, or the BadRow that ends it; checks that sample ``i`` is in partition ``i % N``."""
    count = 0
    for record in records:
        if isinstance(record, BadRow):
            yield record
            return
        ids = record[0]
        if num_partitions is not None and ids.size and np.any(ids % num_partitions != partition):
            stray = int(ids[np.argmax(ids % num_partitions != partition)])
            raise RuntimeError(f"internal error: partition {partition} of {num_partitions} holds sample {stray}, "
                               f"which belongs to partition {stray % num_partitions}")
        count += ids.size
    yield count


def _rows_per_record(row_bytes: int, record_bytes: int) -> int:
    return max(1, record_bytes // max(1, row_bytes))


# ------------------------------------------------------------------ numpy input
def _arrays_to_blocks(sc: Any, x: Any, y: Any, labels: bool, n_out: int, record_bytes: int, what: str) -> RDD:
    xs = [_feature_dtype(a) for a in _as_inputs(x, f"{what} x")]
    n = xs[0].shape[0]
    if labels:
        if y is None:
            raise ValueError(f"{what}: numpy features need labels y")
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{what}: {n} input samples but y has shape {y.shape}")
        bad = _first_not_finite(y)
        if bad is not None:
            raise ValueError(f"{what}: row {bad}: label is not finite")
    row_bytes = sum(a[:1].nbytes for a in xs) + (y[:1].nbytes if labels else 0)
    # the same number of records in every partition (the largest partition's count), so that after
    # one record per slice, coalescing puts slices p*count .. (p+1)*count-1 into partition p
    count = max(1, math.ceil(math.ceil(n / n_out) / _rows_per_record(row_bytes, record_bytes)))
    records = [(ids, tuple(a[ids] for a in xs), y[ids] if labels else None)
               for p in range(n_out) for ids in np.array_split(np.arange(p, n, n_out, dtype=np.int64), count)]
    # len(records) slices: PySpark pickles each record on its own (batch size 1); coalesce without a
    # shuffle joins contiguous runs of slices (no locality preferences); _census checks the result
    return sc.parallelize(records, len(records)).coalesce(n_out)


def _feature_dtype(a: np.ndarray) -> np.ndarray:
    """Integer features stay integers (int64: token ids for an Embedding); the rest becomes float32."""
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64, copy=False)
    return a.astype(np.float32, copy=False)


# ------------------------------------------------------------ DataFrame input (Arrow)
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


def _dataframe_to_blocks(df: DataFrame, features_col: str | Sequence[str], label_col: str | None,
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
        rows_per_record = _rows_per_record(sum(math.prod(s) * np.dtype(t).itemsize for s, t in zip(shapes, dtypes)),
                                           record_bytes)
        empty = _empty_record(shapes, spec)
        records = decoded.select("partition", "start", "rows", "data").rdd.map(
            functools.partial(_chunk_record, offsets=offsets, shapes=shapes, spec=spec))
        if n_out is None:
            rdd = records.mapPartitions(functools.partial(_or_empty, empty=empty), preservesPartitioning=True)
        else:  # sample i to partition i % N: pieces keyed by their first id, sorted by PySpark's external sort
            pieces = records.flatMap(functools.partial(_pieces, n_out=n_out))
            rdd = pieces.repartitionAndSortWithinPartitions(n_out, functools.partial(_modulo, n=n_out)).mapPartitions(
                streamed(functools.partial(_merged, rows_per_record=rows_per_record, empty=empty)),
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
        step = _rows_per_record(sum(a[:1].nbytes for a in arrays), spec.record_bytes)
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
    if spec.labelled and _first_not_finite(arrays[-1]) is not None:
        raise _BadBatch
    return arrays


def _first_not_finite(y: np.ndarray) -> int | None:
    """The first row of ``y`` holding a NaN or infinity, or None (integer and boolean arrays have none)."""
    if not np.issubdtype(y.dtype, np.number):
        return None
    bad = ~np.isfinite(y.reshape(y.shape[0], -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


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
    return _first_not_finite(values) if spec.is_label(j) else None


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
    if label and _first_not_finite(value) is not None:
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


# ------------------------------------------------------------------ RDD input
def _rows(data: RDD, label_col: str | None) -> tuple[RDD, list[str]]:
    """An RDD as one of ``(features tuple, label)`` and the column names for errors."""
    if label_col is None:
        return data.map(lambda f: ((f,), None)), ["features"]
    return data.map(tagged(_pair)), ["features", "label"]


def _pair(record: Any) -> tuple[tuple[Any], Any]:
    if not isinstance(record, (tuple, list)) or len(record) != 2:
        raise ValueError(f"RDD elements must be (features, label) pairs, got {type(record).__name__} "
                         f"{str(record)[:80]}")
    return (record[0],), record[1]


def identity_partition(key: int) -> int:
    """The partition function of records already keyed by their partition."""
    return key


#: feature (shape, dtype) per input column; the label's (shape, dtype) or None
_Shapes = tuple[tuple[tuple[int, ...], str], ...]
_LabelSpec = tuple[tuple[int, ...], str] | None
_Row = tuple[int, tuple[tuple[Any, ...], Any]]


def _rows_to_blocks(rows: RDD, columns: list[str], labels: bool, n_out: int | None, record_bytes: int,
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
                              rows_per_record=_rows_per_record(row_bytes, record_bytes))
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


# ------------------------------------------------------------------ epoch layout
class EpochLayout:
    """The training blocks laid out per epoch so that an iteration reads only its own samples (module doc).

    Args:
        blocks: the training blocks, sample ``i`` in partition ``i % N``.
        batch_size: the global batch size ``B``.
        order: the epochs' sample orders (the trainer's, so batches match LocalTrainer's).
        buffer_bytes: a map task writes its buffered pieces to the shuffle whenever
            they reach this many bytes (bounds its memory and every shuffle record).

    Examples:
        >>> layout = EpochLayout(blocks, 32, EpochOrder(blocks.size, seed, True))
        >>> shares = layout.shares(epoch=1, index=0)   # N partitions: batch 0's samples, by id mod N
        >>> shares.mapPartitionsWithIndex(lambda p, pieces: [batch_share(pieces)]).collect()
    """

    def __init__(self, blocks: Blocks, batch_size: int, order: EpochOrder, buffer_bytes: int = RECORD_BYTES) -> None:
        self.blocks, self.batch_size, self.order, self.buffer_bytes = blocks, batch_size, order, buffer_bytes
        self.num_partitions = blocks.num_partitions
        #: iterations (global batches) per epoch
        self.iterations = math.ceil(blocks.size / batch_size)
        self._epoch: int | None = None
        self._shuffled: RDD | None = None
        self._shuffle_id: int | None = None
        self._positions: Broadcast | None = None

    def shares(self, epoch: int, index: int) -> RDD:
        """Batch ``index`` (0-based within ``epoch``) as ``N`` partitions of :data:`Piece` s.

        Partition ``p`` holds the batch's samples with id ``p`` mod ``N``
        (possibly none); a job on it runs ``N`` tasks and reads only their
        shuffle blocks. The epoch's shuffle is set up on the first call for
        ``epoch`` (the previous epoch's files are deleted then); its map stage
        runs within the first job that reads it.
        """
        if not 0 <= index < self.iterations:
            raise ValueError(f"batch index {index} outside the epoch's {self.iterations} batches")
        if epoch != self._epoch:
            self._build(epoch)
        start = index * self.num_partitions
        return _partitions(self._shuffled, start, start + self.num_partitions)

    def unpersist(self) -> None:
        """Delete the current epoch's shuffle files and position broadcast (a later call rebuilds them)."""
        if self._shuffle_id is not None:
            sc = self.blocks.rdd.context
            cleaner = sc._jsc.sc().cleaner()
            if cleaner.isDefined():  # else (spark.cleaner.referenceTracking=false) they go with the application
                cleaner.get().doCleanupShuffle(self._shuffle_id, False)
        if self._positions is not None:
            self._positions.destroy()
        self._epoch = self._shuffled = self._shuffle_id = self._positions = None

    def _build(self, epoch: int) -> None:
        self.unpersist()
        sc = self.blocks.rdd.context
        n = self.blocks.size
        order = self.order(epoch)
        positions = np.empty(n, dtype=np.int32 if n < 2**31 else np.int64)
        positions[order] = np.arange(n)
        self._positions = sc.broadcast(positions)
        write = functools.partial(_write_pieces, positions=self._positions, batch_size=self.batch_size,
                                  num_partitions=self.num_partitions, buffer_bytes=self.buffer_bytes)
        keyed = self.blocks.rdd.mapPartitions(streamed(write))
        keyed._bypass_serializer = True  # we yield (key, pickled value) byte strings, as RDD.partitionBy does
        jvm = sc._jvm
        pairs = jvm.PairwiseRDD(keyed._jrdd.rdd()).asJavaPairRDD()
        shuffled = pairs.partitionBy(jvm.PythonPartitioner(self.iterations * self.num_partitions, id(identity_partition)))
        self._shuffle_id = shuffled.rdd().dependencies().head().shuffleId()
        self._shuffled = RDD(jvm.PythonRDD.valueOfPair(shuffled), sc, BatchedSerializer(CPickleSerializer()))
        self._epoch = epoch


def _write_pieces(records: Iterable[Block], positions: Broadcast, batch_size: int, num_partitions: int,
                  buffer_bytes: int) -> Iterator[bytes]:
    """Map side of the epoch layout: cut each record into pieces by destination ``k*N + id % N``.

    Yields alternating ``pack_long(destination)`` and pickled lists of pieces
    (what Spark's ``PairwiseRDD`` reads); buffered pieces are written whenever
    they reach ``buffer_bytes``.
    """
    where = positions.value
    pickle = CPickleSerializer()
    buckets: dict[int, list[Piece]] = {}
    buffered = 0
    for ids, xs, y in records:
        if not ids.size:
            continue
        pos = where[ids].astype(np.int64)
        destination = pos // batch_size * num_partitions + ids % num_partitions
        by_destination = np.argsort(destination, kind="stable")
        sorted_destination = destination[by_destination]
        starts = np.flatnonzero(np.diff(sorted_destination, prepend=-1))
        for take in np.split(by_destination, starts[1:]):
            piece = (pos[take], ids[take], tuple(x[take] for x in xs), None if y is None else y[take])
            buckets.setdefault(int(destination[take[0]]), []).append(piece)
            buffered += sum(a.nbytes for a in (*piece[:2], *piece[2])) + (0 if y is None else piece[3].nbytes)
        if buffered >= buffer_bytes:
            yield from _flush(buckets, pickle)
            buffered = 0
    yield from _flush(buckets, pickle)


def _flush(buckets: dict[int, list[Piece]], pickle: CPickleSerializer) -> Iterator[bytes]:
    for destination, pieces in buckets.items():
        yield pack_long(destination)
        yield pickle.dumps(pieces)
    buckets.clear()


def _partitions(rdd: RDD, start: int, stop: int) -> RDD:
    """Partitions ``start .. stop-1`` of ``rdd`` as an RDD of their own (a job on it runs only their tasks)."""
    pruning, ranges = _pruning_classes(rdd.context._jvm)
    wanted = ranges(start, stop, 1).toSet()  # a Scala Set[Int] is an Int => Boolean
    pruned = pruning.create(rdd._jrdd.rdd(), wanted)
    return RDD(pruned.toJavaRDD(), rdd.context, rdd._jrdd_deserializer)


#: per gateway (kept referenced, so its id is never reused): (gateway, PartitionPruningRDD, Range.Exclusive)
_PRUNING: dict[int, tuple[Any, Any, Any]] = {}


def _pruning_classes(jvm: Any) -> tuple[Any, Any]:
    """``PartitionPruningRDD`` and ``Range.Exclusive`` of this gateway, looked up once (py4j resolves a
    class name with a round trip per package level: ~4 ms of every iteration job otherwise)."""
    found = _PRUNING.get(id(jvm))
    if found is None:
        found = _PRUNING[id(jvm)] = (jvm, jvm.org.apache.spark.rdd.PartitionPruningRDD,
                                     getattr(jvm.scala.collection.immutable, "Range$Exclusive"))
    return found[1], found[2]


def batch_share(pieces: Iterable[Piece]) -> Block | None:
    """A share's pieces as one record in batch order (by epoch position), or None when there are none."""
    pieces = list(pieces)
    if not pieces:
        return None
    order = np.argsort(np.concatenate([p[0] for p in pieces]))
    ids = np.concatenate([p[1] for p in pieces])[order]
    xs = tuple(np.concatenate([p[2][j] for p in pieces])[order] for j in range(len(pieces[0][2])))
    y = None if pieces[0][3] is None else np.concatenate([p[3] for p in pieces])[order]
    return ids, xs, y
