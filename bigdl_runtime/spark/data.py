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

**DataFrames go through Arrow** (:func:`~bigdl_runtime.spark.dataframe_blocks.dataframe_to_blocks`): one ``mapInArrow`` over the feature and
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
import math
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from pyspark import RDD, StorageLevel
from pyspark.sql import DataFrame, SparkSession

from ..train.trainer import _as_inputs
from .blocks import RECORD_BYTES, BadRow, Block, Blocks, feature_dtype, first_not_finite, rows_per_record
from .dataframe_blocks import dataframe_to_blocks
from .errors import tagged, worker_errors
from .rdd_blocks import rows, rows_to_blocks


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
        rdd, decoded = dataframe_to_blocks(data, features_col, label_col if labels else None, num_partitions,
                                            record_bytes, what, feature_shape)
    elif isinstance(data, RDD):
        pairs, columns = rows(data, label_col if labels else None)
        rdd = rows_to_blocks(pairs, columns, labels, num_partitions, record_bytes, what)
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



# ------------------------------------------------------------------ numpy input
def _arrays_to_blocks(sc: Any, x: Any, y: Any, labels: bool, n_out: int, record_bytes: int, what: str) -> RDD:
    xs = [feature_dtype(a) for a in _as_inputs(x, f"{what} x")]
    n = xs[0].shape[0]
    if labels:
        if y is None:
            raise ValueError(f"{what}: numpy features need labels y")
        y = np.asarray(y)
        if y.shape[:1] != (n,):
            raise ValueError(f"{what}: {n} input samples but y has shape {y.shape}")
        bad = first_not_finite(y)
        if bad is not None:
            raise ValueError(f"{what}: row {bad}: label is not finite")
    row_bytes = sum(a[:1].nbytes for a in xs) + (y[:1].nbytes if labels else 0)
    # the same number of records in every partition (the largest partition's count), so that after
    # one record per slice, coalescing puts slices p*count .. (p+1)*count-1 into partition p
    count = max(1, math.ceil(math.ceil(n / n_out) / rows_per_record(row_bytes, record_bytes)))
    records = [(ids, tuple(a[ids] for a in xs), y[ids] if labels else None)
               for p in range(n_out) for ids in np.array_split(np.arange(p, n, n_out, dtype=np.int64), count)]
    # len(records) slices: PySpark pickles each record on its own (batch size 1); coalesce without a
    # shuffle joins contiguous runs of slices (no locality preferences); _census checks the result
    return sc.parallelize(records, len(records)).coalesce(n_out)


