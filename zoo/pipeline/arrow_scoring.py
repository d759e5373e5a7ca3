"""Scoring DataFrames through Arrow on the workers: the machinery under :func:`zoo.pipeline.inference.predict`
and the NN stages of :mod:`zoo.pipeline.model`.

A model travels once, as model-file bytes (our protobuf format, never pickle) in a broadcast keyed by a hash
of those bytes (:func:`ship`); each Python worker rebuilds it on first use and keeps it in the runtime's replica
cache. :func:`score_dataframe` adds the scorer's columns to a DataFrame with one ``mapInArrow``: each Arrow
batch is decoded at once, its rows go through the model ``batch_size`` at a time, and it comes back as one
Arrow batch holding its own columns plus the new ones, in row order.
"""
from __future__ import annotations

import functools
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from pyspark import Broadcast, SparkContext, TaskContext
from pyspark.sql import DataFrame
from pyspark.sql.types import StructField, StructType

from bigdl_runtime.nn.module import Module
from bigdl_runtime.serialization import model_to_bytes
from bigdl_runtime.spark import worker
from bigdl_runtime.spark.arrow import BadCell

#: broadcasts kept on the driver (the newest models scored); older ones are unpersisted
MAX_SHIPPED = 4


# ------------------------------------------------------------------ the shipped model
@dataclass(frozen=True)
class ShippedModel:
    """A model broadcast once as model-file bytes; :meth:`get` on a worker returns its cached copy.

    Build it on the driver with :func:`ship`; pass it into task functions (it pickles
    as a key and a broadcast handle, never as the network).
    """

    key: str
    broadcast: Broadcast

    def get(self) -> Module:
        """This Python worker's copy of the model, in evaluation mode (rebuilt from the broadcast on first use)."""
        model = worker.replica(worker.RunSpec(self.key, self.broadcast)).model
        return model.evaluate() if model.training else model


_SHIPPED: "OrderedDict[tuple[int, str], ShippedModel]" = OrderedDict()


def ship(model: Module, sc: SparkContext) -> ShippedModel:
    """Broadcast ``model`` (once per distinct weights: keyed by the SHA-256 of its model-file bytes)."""
    data = model_to_bytes(model)
    key = "predict-" + hashlib.sha256(data).hexdigest()[:32]
    slot = (id(sc), key)
    found = _SHIPPED.get(slot)
    if found is None:
        found = _SHIPPED[slot] = ShippedModel(key, sc.broadcast((data, None)))  # scoring needs no loss
        while len(_SHIPPED) > MAX_SHIPPED:
            _SHIPPED.popitem(last=False)[1].broadcast.unpersist()  # a lazy result still using it re-fetches it
    _SHIPPED.move_to_end(slot)
    return found


# ------------------------------------------------------------------ DataFrames: Arrow batches
class BadRowError(ValueError):
    """A row whose features cannot be fed to the model; the message names the row."""


@dataclass(frozen=True)
class ArrowInput:
    """One model input: the column at ``position`` of each Arrow batch, and how it becomes an array.

    ``decode(column) -> (rows, *shape) array`` raises :class:`~bigdl_runtime.spark.arrow.BadCell`
    naming the bad cell's position in the column.
    """

    position: int
    column: str
    decode: Callable[[pa.Array], np.ndarray]


@dataclass(frozen=True)
class ArrowScoring:
    """What every scoring task needs (picklable): the model, its inputs, how its outputs become columns.

    ``encode(outputs) -> [column, ...]`` gives one Arrow array per new column (named ``names``).
    """

    what: str                         # who scores, for errors ("predict", "NNModel", ...)
    model: ShippedModel
    inputs: tuple[ArrowInput, ...]
    encode: Callable[[np.ndarray], list[pa.Array]]
    names: tuple[str, ...]
    batch_size: int


def score_dataframe(df: DataFrame, scoring: ArrowScoring, fields: Sequence[StructField]) -> DataFrame:
    """``df`` with the new columns ``fields`` computed by ``scoring`` (lazy; one ``mapInArrow``).

    Arrow batches (``spark.sql.execution.arrow.maxRecordsPerBatch`` rows, at most
    ``spark.sql.execution.arrow.maxBytesPerBatch`` bytes) reach each task's Python
    worker; each is decoded at once, its rows go through the model ``batch_size`` at
    a time (a forward pass may span two Arrow batches) and it comes back as one Arrow
    batch holding all of ``df``'s columns plus the new ones. Partitioning and row
    order are kept.
    """
    schema = StructType([*df.schema.fields, *fields])
    return df.mapInArrow(functools.partial(_score_batches, scoring=scoring), schema)


def _score_batches(batches: Iterable[pa.RecordBatch], scoring: ArrowScoring) -> Iterator[pa.RecordBatch]:
    """The task: each Arrow batch decoded at once, its rows through the model ``batch_size`` at a time (rows left
    over join the next batch's), and one output batch per input batch (its columns + the new ones), in row order."""
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    model: Module | None = None
    waiting: list[pa.RecordBatch] = []               # input batches whose outputs are not all computed yet
    inputs: list[list[np.ndarray]] = []              # their decoded rows not yet scored, per input batch
    outputs: list[np.ndarray] = []                   # outputs computed for the waiting batches, in row order
    scored = 0                                       # rows of the partition through the model so far
    first = 0                                        # the partition's row number of waiting[0]'s row 0
    for batch in batches:
        if not batch.num_rows:
            continue
        waiting.append(batch)
        inputs.append(_decoded(scoring, batch, partition, first + sum(b.num_rows for b in waiting[:-1])))
        while sum(len(x[0]) for x in inputs) >= scoring.batch_size:
            model = scoring.model.get() if model is None else model
            xs = _take(inputs, scoring.batch_size)
            outputs.append(_forward(model, scoring, xs, partition, scored))
            scored += len(xs[0])
        while waiting and first + waiting[0].num_rows <= scored:     # every row of the oldest batch is scored
            done = waiting.pop(0)
            yield _joined(scoring, done, _take_rows(outputs, done.num_rows), partition, first)
            first += done.num_rows
    if inputs:
        rest = _take(inputs, sum(len(x[0]) for x in inputs))
        if len(rest[0]):
            model = scoring.model.get() if model is None else model
            outputs.append(_forward(model, scoring, rest, partition, scored))
        for done in waiting:
            yield _joined(scoring, done, _take_rows(outputs, done.num_rows), partition, first)
            first += done.num_rows


def _take(inputs: list[list[np.ndarray]], n: int) -> list[np.ndarray]:
    """The first ``n`` pending rows of every model input (removed from ``inputs``; a slice, no copy, when they are
    in one batch)."""
    taken: list[list[np.ndarray]] = [[] for _ in inputs[0]] if inputs else []
    while n and inputs:
        head = inputs[0]
        k = min(n, len(head[0]))
        for parts, x in zip(taken, head):
            parts.append(x[:k])
        if k == len(head[0]):
            inputs.pop(0)
        else:
            inputs[0] = [x[k:] for x in head]
        n -= k
    while inputs and not len(inputs[0][0]):
        inputs.pop(0)
    return [parts[0] if len(parts) == 1 else np.concatenate(parts) for parts in taken]


def _take_rows(outputs: list[np.ndarray], n: int) -> np.ndarray:
    """The first ``n`` rows of the computed outputs (removed from ``outputs``)."""
    parts = []
    while n:
        k = min(n, len(outputs[0]))
        parts.append(outputs[0][:k])
        if k == len(outputs[0]):
            outputs.pop(0)
        else:
            outputs[0] = outputs[0][k:]
        n -= k
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _decoded(scoring: ArrowScoring, part: pa.RecordBatch, partition: int, first: int) -> list[np.ndarray]:
    arrays = []
    for item in scoring.inputs:
        try:
            arrays.append(item.decode(part.column(item.position)))
        except BadCell as err:
            where = f"{scoring.what}: row {first + err.row} of partition {partition}, column '{item.column}'"
            taken = {i.position for i in scoring.inputs}
            others = {name: part.column(j)[err.row].as_py() for j, name in enumerate(part.schema.names)
                      if j not in taken}
            if others:  # name the row by its other columns, as the user sees it
                where += f" (row {str(others)[:160]})"
            raise BadRowError(f"{where}: {err.message}") from None
    return arrays


def _forward(model: Module, scoring: ArrowScoring, xs: list[np.ndarray], partition: int, first: int) -> np.ndarray:
    """One forward pass over rows ``first...`` of the partition; the outputs, one per row."""
    n = len(xs[0])
    try:
        out = np.asarray(model.forward(*xs))
    except ValueError as err:
        raise ValueError(f"{scoring.what}: rows {first}-{first + n - 1} of partition {partition}: the model "
                         f"rejects input(s) of shape {[x.shape[1:] for x in xs]}: {err}") from None
    if out.ndim == 0 or out.shape[0] != n:
        raise ValueError(f"{scoring.what}: the model returns an output of shape {out.shape} for {n} rows; "
                         "it must give one output per row")
    return out


def _joined(scoring: ArrowScoring, batch: pa.RecordBatch, out: np.ndarray, partition: int,
            first: int) -> pa.RecordBatch:
    """``batch``'s columns and the new ones encoded from its rows' outputs."""
    try:
        columns = scoring.encode(out)
    except ValueError as err:
        raise ValueError(f"{scoring.what}: rows {first}-{first + batch.num_rows - 1} of partition {partition}: "
                         f"{err}") from None
    return pa.RecordBatch.from_arrays([*batch.columns, *columns], names=[*batch.schema.names, *scoring.names])
