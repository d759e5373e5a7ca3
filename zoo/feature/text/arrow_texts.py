"""TextRecords as Arrow rows: how a distributed TextSet holds its texts (never pickled records).

One row per record: ``source`` (file path or row), ``label`` (class index, null when
unlabelled), ``text``, ``tokens`` (list of strings, null before tokenising) and
``ids`` (list of int64, null before encoding). :func:`records_batch` and
:func:`batch_records` convert between a batch and records; :func:`mapped` is the
``mapInArrow`` task that runs a record function over every row.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from pyspark.sql.types import ArrayType, LongType, StringType, StructField, StructType

from .record import TextRecord

TEXT_FIELDS = ("source", "label", "text", "tokens", "ids")
_TOKENS = pa.list_(pa.field("element", pa.string(), False))
_IDS = pa.list_(pa.field("element", pa.int64(), False))


def text_schema() -> StructType:
    """The Spark schema of text rows (what ``mapInArrow`` tasks building records declare)."""
    return StructType([StructField("source", StringType()), StructField("label", LongType()),
                       StructField("text", StringType(), False),
                       StructField("tokens", ArrayType(StringType(), False)),
                       StructField("ids", ArrayType(LongType(), False))])


def records_batch(records: Sequence[TextRecord]) -> pa.RecordBatch:
    """``records`` as one Arrow batch of :data:`TEXT_FIELDS`."""
    return pa.RecordBatch.from_arrays(
        [pa.array([r.source for r in records], pa.string()), pa.array([r.label for r in records], pa.int64()),
         pa.array([r.text for r in records], pa.string()), pa.array([r.tokens for r in records], _TOKENS),
         _ids_column([r.ids for r in records])], names=list(TEXT_FIELDS))


def batch_records(batch: pa.RecordBatch | pa.Table) -> list[TextRecord]:
    """The records of a batch (or table) of :data:`TEXT_FIELDS` rows."""
    if isinstance(batch, pa.Table):
        return [r for b in batch.combine_chunks().to_batches() for r in batch_records(b)]
    sources, labels, texts, tokens = (batch.column(k).to_pylist() for k in ("source", "label", "text", "tokens"))
    ids = _ids_arrays(batch.column("ids"))
    return [TextRecord(text=texts[i], label=labels[i], source=sources[i], tokens=tokens[i], ids=ids[i])
            for i in range(batch.num_rows)]


def mapped(fn: Callable[[TextRecord], TextRecord], batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` task of a per-record step: every row of every batch through ``fn``."""
    for batch in batches:
        yield records_batch([fn(r) for r in batch_records(batch)])


def _ids_column(ids: Sequence[np.ndarray | None]) -> pa.Array:
    """Id arrays as one ``list<int64>`` column (null for None), built on one values buffer."""
    lengths = np.array([0 if a is None else len(a) for a in ids], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    present = [a for a in ids if a is not None]
    values = np.concatenate(present).astype(np.int64) if present else np.zeros(0, np.int64)
    valid = np.array([a is not None for a in ids], bool)
    mask = None if valid.all() else pa.array(~valid)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values), type=_IDS, mask=mask)


def _ids_arrays(column: pa.Array) -> list[np.ndarray | None]:
    """A ``list<int64>`` column as one int64 array per row (None for a null row)."""
    if column.null_count == len(column):
        return [None] * len(column)
    offsets = column.offsets.to_numpy().astype(np.int64)
    values = column.values.to_numpy(zero_copy_only=False).astype(np.int64)
    valid = column.is_valid().to_numpy(zero_copy_only=False)
    return [values[offsets[i]:offsets[i + 1]].copy() if valid[i] else None for i in range(len(column))]
