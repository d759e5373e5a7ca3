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
from typing import Callable, Iterable, Iterator, Sequence, Tuple

import numpy as np
import pyarrow as pa
from pyspark import Broadcast, SparkContext, TaskContext
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (BooleanType, DateType, NumericType, StringType, StructField, StructType,
                               TimestampType)

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
    """One model input: the DataFrame column ``column``, and how its Arrow form becomes an array.

    ``decode(column) -> (rows, *shape) array`` raises :class:`~bigdl_runtime.spark.arrow.BadCell`
    naming the bad cell's position in the column.
    """

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


#: PySpark >= 4.1 has scalar Arrow UDFs (pyspark.sql.functions.arrow_udf); older versions score in a mapInArrow
ARROW_UDF = hasattr(F, "arrow_udf")
#: Spark types of the columns that name a bad row in errors (sent to the workers beside the inputs: small)
_NAMING_TYPES = (NumericType, StringType, BooleanType, DateType, TimestampType)


def score_dataframe(df: DataFrame, scoring: ArrowScoring, fields: Sequence[StructField]) -> DataFrame:
    """``df`` with the new columns ``fields`` computed by ``scoring`` (lazy).

    On PySpark >= 4.1 this is one scalar Arrow UDF (Spark's ``ArrowEvalPython``): only the input columns
    (and the plain-valued columns that name a bad row in errors: numbers, strings, booleans, dates) go to
    the Python workers, only the new columns come back, and the JVM joins them to the rows it kept, so
    the other columns never cross to Python and back (LeNet-5 on ``array<float>`` rows: the JVM's CPU a
    third lower than with ``mapInArrow``); like any column expression, the new columns are computed only
    when an action uses them. Older PySpark has no Arrow UDF (its pandas UDFs would make a Python object of
    every binary cell): one ``mapInArrow`` there, each batch coming back with all its columns plus the new
    ones. Either way the Arrow batches hold ``spark.sql.execution.arrow.maxRecordsPerBatch`` rows, at most
    ``spark.sql.execution.arrow.maxBytesPerBatch`` bytes; each is decoded at once and its rows go through
    the model ``batch_size`` at a time (a forward pass may span two Arrow batches). Partitioning and row
    order are kept.
    """
    taken = {item.column for item in scoring.inputs}
    naming = tuple(f.name for f in df.schema.fields if f.name not in taken and df.columns.count(f.name) == 1
                   and isinstance(f.dataType, _NAMING_TYPES))    # a name two columns share cannot be selected
    if not ARROW_UDF:
        positions = tuple(df.columns.index(c) for c in [*(item.column for item in scoring.inputs), *naming])
        task = functools.partial(_joined_batches, scoring=scoring, positions=positions, naming=naming)
        return df.mapInArrow(task, StructType([*df.schema.fields, *fields]))
    single = len(fields) == 1
    out_type = fields[0].dataType if single else StructType(list(fields))

    def task(batches: Iterator[Tuple[pa.Array, ...]]) -> Iterator[pa.Array]:
        for columns in _score_batches(batches, scoring, naming):
            yield columns[0] if single else pa.StructArray.from_arrays(columns, names=list(scoring.names))

    scored = F.arrow_udf(task, out_type)(*[df[item.column] for item in scoring.inputs], *[df[n] for n in naming])
    if single:
        return df.withColumn(fields[0].name, scored)
    hidden = "__" + "_".join(scoring.names)
    while hidden in df.columns:
        hidden += "_"
    return df.withColumn(hidden, scored).select(*[df[c] for c in df.columns],
                                                *[F.col(hidden)[f.name].alias(f.name) for f in fields])


def _joined_batches(batches: Iterable[pa.RecordBatch], scoring: ArrowScoring, positions: tuple[int, ...],
                    naming: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
    """The ``mapInArrow`` task (PySpark < 4.1): each input batch back with its columns plus the new ones
    (``positions``: where the inputs' and then the ``naming`` columns are in a batch)."""
    waiting: list[pa.RecordBatch] = []

    def columns() -> Iterator[tuple[pa.Array, ...]]:
        for batch in batches:
            waiting.append(batch)
            yield tuple(batch.column(k) for k in positions)

    for new in _score_batches(columns(), scoring, naming):
        while not waiting[0].num_rows:
            waiting.pop(0)
        done = waiting.pop(0)
        yield pa.RecordBatch.from_arrays([*done.columns, *new], names=[*done.schema.names, *scoring.names])


def _score_batches(batches: Iterable[pa.Array | tuple[pa.Array, ...]], scoring: ArrowScoring,
                   naming: tuple[str, ...]) -> Iterator[list[pa.Array]]:
    """The task: each Arrow batch (the inputs' columns, then the naming columns) decoded at once, its rows
    through the model ``batch_size`` at a time (rows left over join the next batch's), and the new columns of
    each input batch's rows, in row order."""
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    model: Module | None = None
    waiting: list[int] = []                          # rows of the input batches whose outputs are not all computed
    inputs: list[list[np.ndarray]] = []              # their decoded rows not yet scored, per input batch
    outputs: list[np.ndarray] = []                   # outputs computed for the waiting batches, in row order
    scored = 0                                       # rows of the partition through the model so far
    first = 0                                        # the partition's row number of waiting[0]'s row 0
    for batch in batches:
        columns = batch if isinstance(batch, tuple) else (batch,)
        if not len(columns[0]):
            continue
        waiting.append(len(columns[0]))
        inputs.append(_decoded(scoring, columns, naming, partition, first + sum(waiting[:-1])))
        while sum(len(x[0]) for x in inputs) >= scoring.batch_size:
            model = scoring.model.get() if model is None else model
            xs = _take(inputs, scoring.batch_size)
            outputs.append(_forward(model, scoring, xs, partition, scored))
            scored += len(xs[0])
        while waiting and first + waiting[0] <= scored:     # every row of the oldest batch is scored
            rows = waiting.pop(0)
            yield _encoded(scoring, _take_rows(outputs, rows), partition, first)
            first += rows
    if inputs:
        rest = _take(inputs, sum(len(x[0]) for x in inputs))
        if len(rest[0]):
            model = scoring.model.get() if model is None else model
            outputs.append(_forward(model, scoring, rest, partition, scored))
        for rows in waiting:
            yield _encoded(scoring, _take_rows(outputs, rows), partition, first)
            first += rows


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


def _decoded(scoring: ArrowScoring, columns: tuple[pa.Array, ...], naming: tuple[str, ...], partition: int,
             first: int) -> list[np.ndarray]:
    arrays = []
    for k, item in enumerate(scoring.inputs):
        try:
            arrays.append(item.decode(columns[k]))
        except BadCell as err:
            where = f"{scoring.what}: row {first + err.row} of partition {partition}, column '{item.column}'"
            others = {name: columns[len(scoring.inputs) + j][err.row].as_py() for j, name in enumerate(naming)}
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


def _encoded(scoring: ArrowScoring, out: np.ndarray, partition: int, first: int) -> list[pa.Array]:
    """The new columns of rows ``first...`` of the partition, encoded from their outputs."""
    try:
        return scoring.encode(out)
    except ValueError as err:
        raise ValueError(f"{scoring.what}: rows {first}-{first + len(out) - 1} of partition {partition}: "
                         f"{err}") from None
