"""The records training data is cached as on Spark, and the helpers every input form shares.

A record (:data:`Block`) is ``(ids, xs, y)``: global sample indices, one feature array per model input, the
labels (or None); see :mod:`bigdl_runtime.spark.data` for how inputs become them and
:mod:`bigdl_runtime.spark.epoch_layout` for how an epoch lays them out per iteration.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from pyspark import RDD

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



def rows_per_record(row_bytes: int, record_bytes: int) -> int:
    """Rows of ``row_bytes`` in a record of at most ``record_bytes`` (at least one)."""
    return max(1, record_bytes // max(1, row_bytes))


def feature_dtype(a: np.ndarray) -> np.ndarray:
    """Integer features stay integers (int64: token ids for an Embedding); the rest becomes float32."""
    if np.issubdtype(a.dtype, np.integer):
        return a.astype(np.int64, copy=False)
    return a.astype(np.float32, copy=False)



def first_not_finite(y: np.ndarray) -> int | None:
    """The first row of ``y`` holding a NaN or infinity, or None (integer and boolean arrays have none)."""
    if not np.issubdtype(y.dtype, np.number):
        return None
    bad = ~np.isfinite(y.reshape(y.shape[0], -1)).all(axis=1)
    return int(np.argmax(bad)) if bad.any() else None


def identity_partition(key: int) -> int:
    """The partition function of records already keyed by their partition."""
    return key
