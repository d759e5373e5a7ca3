"""Spark-scale inference: score a DataFrame or an RDD with a model in one call.

``predict(model, df)`` returns ``df`` with one more column, computed on the
workers by a ``mapPartitions`` when an action runs (lazy, like a Spark ML
transformer). The model travels once, as model-file bytes (our protobuf
format, never pickle) in a broadcast keyed by a hash of those bytes, so
scoring the same model again reuses both the broadcast and the workers'
copies. Each Python worker rebuilds the model on first use and keeps it in the
runtime's replica cache (:func:`bigdl_runtime.spark.worker.replica`, the one the
distributed trainer uses), so later tasks and later calls skip the rebuild.
Rows are fed ``batch_size`` at a time in evaluation mode, to the model as
:func:`~bigdl_runtime.nn.fuse.fuse_for_inference` fuses it (batch norms folded
into convolutions, ReLUs into the convolutions before them; ``fuse=False``
scores the model as it is); partitioning, row order and every other column are
kept. (pandas / pyarrow are not dependencies of this project, so batching goes
through the RDD API rather than ``mapInArrow``.)

Examples:
    >>> import zoo
    >>> scored = zoo.predict(zoo.load_onnx("resnet18.onnx"), images_df, input_col="pixels",
    ...                      input_shape=(3, 224, 224), output="label", labels=class_names)
    >>> scored.select("id", "prediction").show()
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
from pyspark import RDD, Broadcast, SparkContext
from pyspark.ml import Transformer
from pyspark.ml.linalg import DenseVector, VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, DataType, DoubleType, FloatType, LongType, StringType, StructField, StructType

from bigdl_runtime.nn.fuse import fuse_for_inference
from bigdl_runtime.nn.module import Module
from bigdl_runtime.serialization import load_model, model_to_bytes
from bigdl_runtime.spark import worker

OUTPUTS = ("vector", "array", "label", "scalar")
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


# ------------------------------------------------------------------ rows -> arrays
class BadRowError(ValueError):
    """A row whose features cannot be fed to the model; the message names the row."""


def _cell_array(cell: Any, shape: tuple[int, ...]) -> np.ndarray:
    """One features cell (array, nested array or ml Vector) as an array of ``shape``."""
    if cell is None:
        raise BadRowError("features are null")
    if hasattr(cell, "toArray"):
        cell = cell.toArray()
    try:
        x = np.asarray(cell)
        x = x.astype(np.int64 if x.dtype.kind in "iub" else np.float32, copy=False)
    except (TypeError, ValueError) as err:
        raise BadRowError(f"features are not a numeric array ({str(err).splitlines()[0]})") from None
    if x.shape != shape:
        if x.size != math.prod(shape):
            raise BadRowError(f"features have shape {x.shape} ({x.size} values); the model input is "
                              f"{shape} ({math.prod(shape)} values)")
        x = x.reshape(shape)
    return x


@dataclass(frozen=True)
class _Job:
    """What every task needs (picklable): the model, where the features are, how to write the output."""

    model: ShippedModel
    positions: tuple[int, ...]        # feature positions in a row (DataFrame) or in a tuple (multi-input RDD)
    columns: tuple[str, ...]          # their names, for errors
    shapes: tuple[tuple[int, ...], ...]
    batch_size: int
    output: str
    labels: tuple[str, ...] | None
    rows: bool                        # DataFrame rows (keep the row, add a cell) or RDD elements


def _where(job: _Job, partition: int, offset: int, record: Any, column: str) -> str:
    text = f"predict: row {offset} of partition {partition}, column '{column}'"
    if job.rows:  # name the row by its other columns, as the user sees it
        others = {k: v for k, v in record.asDict().items() if k not in job.columns}
        if others:
            text += f" (row {str(others)[:160]})"
    return text


def _features(job: _Job, records: list[Any], partition: int, first: int) -> list[np.ndarray]:
    inputs = []
    for position, column, shape in zip(job.positions, job.columns, job.shapes):
        arrays = []
        for i, record in enumerate(records):
            cell = record[position] if job.rows or len(job.positions) > 1 else record
            try:
                arrays.append(_cell_array(cell, shape))
            except BadRowError as err:
                raise BadRowError(f"{_where(job, partition, first + i, record, column)}: {err}") from None
        batch = np.stack(arrays)
        inputs.append(batch if batch.dtype.kind in "if" else batch.astype(np.float32))
    return inputs


def _cells(outputs: np.ndarray, job: _Job) -> list[Any]:
    """The output cell of each row (see :data:`OUTPUTS`)."""
    flat = outputs.reshape(outputs.shape[0], -1)
    if job.output == "vector":
        return [DenseVector(row) for row in flat.astype(np.float64)]
    if job.output == "array":
        return list(outputs) if not job.rows else outputs.astype(np.float32).tolist()
    if job.output == "scalar":
        return [float(v) for v in flat[:, 0]]
    best = flat.argmax(axis=1)
    return [job.labels[i] for i in best] if job.labels is not None else [int(i) for i in best]


def _score_partition(partition: int, records: Iterable[Any], job: _Job) -> Iterator[Any]:
    """The task: batches of ``job.batch_size`` records through the worker's model, outputs in row order."""
    model = None
    offset = 0
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) < job.batch_size:
            continue
        if model is None:
            model = job.model.get()
        yield from _emit(model, job, batch, partition, offset)
        offset += len(batch)
        batch = []
    if batch:
        yield from _emit(job.model.get() if model is None else model, job, batch, partition, offset)


def _emit(model: Module, job: _Job, batch: list[Any], partition: int, offset: int) -> Iterator[Any]:
    out = np.asarray(model.forward(*_features(job, batch, partition, offset)))
    cells = _cells(out, job)
    if job.rows:
        for row, cell in zip(batch, cells):
            yield (*row, cell)
    else:
        yield from cells


# ------------------------------------------------------------------ driver side
def predict(model: Module | str | os.PathLike, data: DataFrame | RDD, input_col: str | Sequence[str] = "features",
            output_col: str = "prediction", batch_size: int = 256, output: str = "vector",
            input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
            labels: Sequence[str] | None = None, fuse: bool = True) -> DataFrame | RDD:
    """Score every row of ``data`` with ``model`` on the Spark workers (lazy; see the module doc).

    Args:
        model: a Module (e.g. from ``zoo.load_onnx``), or the path of a model file
            (``.onnx`` files go through the ONNX importer, others are our model files).
        data: a DataFrame, or an RDD whose elements are the features (a tuple of
            them for a multi-input model).
        input_col: the features column (array, nested array or ml Vector), or a
            list of columns for a multi-input model. Ignored for an RDD.
        output_col: the new column's name (must not exist yet).
        batch_size: rows per forward pass.
        output: ``"vector"`` (ml DenseVector of the flattened output), ``"array"``
            (float arrays nested as the output's per-row shape; numpy arrays for
            an RDD), ``"label"`` (index of the largest output, or its name from
            ``labels``) or ``"scalar"`` (double; the output must have one value per row).
        input_shape: one row's model input shape (a list of them for several
            inputs); a cell with the same number of values (e.g. a flat image) is
            reshaped to it. Default: the first row's cell shape (read by a small Spark job).
        labels: class names for ``output="label"``, one per output value.
        fuse: score :func:`~bigdl_runtime.nn.fuse.fuse_for_inference` of the model (same outputs
            up to float rounding, 10-25 % faster for conv + batch norm + ReLU networks); ``model``
            itself is left as it is.

    Returns:
        a DataFrame with all of ``data``'s columns plus ``output_col``, or an RDD
        of output cells, in the input's order and partitioning.

    Raises:
        ValueError: bad arguments, or the model rejects the first row (raised here);
            a row whose features have the wrong shape fails its task with an error
            naming its partition, position and other columns.

    Examples:
        >>> scored = predict(net, df, input_col="pixels", input_shape=(1, 28, 28), output="label")
        >>> scores = predict(net, sc.parallelize(list_of_arrays), output="array").collect()
    """
    net = fuse_for_inference(_as_model(model)) if fuse else _as_model(model)
    if output not in OUTPUTS:
        raise ValueError(f"predict: output must be one of {OUTPUTS}, got {output!r}")
    if batch_size < 1:
        raise ValueError(f"predict: batch_size must be >= 1, got {batch_size}")
    if labels is not None and output != "label":
        raise ValueError(f"predict: labels are only used with output='label', got output={output!r}")
    n_inputs = len(net.input_names) if hasattr(net, "input_names") else 1
    if isinstance(data, DataFrame):
        columns = [input_col] if isinstance(input_col, str) else list(input_col)
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ValueError(f"predict: the DataFrame has no column(s) {missing}; its columns are {data.columns}")
        if output_col in data.columns:
            raise ValueError(f"predict: output column '{output_col}' already exists; choose another output_col")
        if len(columns) != n_inputs:
            raise ValueError(f"predict: the model takes {n_inputs} input(s), got input columns {columns}")
        first = data.select(*columns).first() if input_shape is None else None  # a job only without a shape
        positions = tuple(data.columns.index(c) for c in columns)
        sc = data.sparkSession.sparkContext
    elif isinstance(data, RDD):
        columns = ["features"] if n_inputs == 1 else [f"features[{i}]" for i in range(n_inputs)]
        head = data.take(1) if input_shape is None else []
        first = None if not head else (head[0],) if n_inputs == 1 else tuple(head[0])
        positions = tuple(range(n_inputs))
        sc = data.context
    else:
        raise TypeError(f"predict: data must be a DataFrame or an RDD, got {type(data).__name__}")
    shapes = _shapes(input_shape, first, columns)
    out_shape = _probe(net, first, shapes) if first is not None or shapes else (1,)
    cell_type = _output_type(output, out_shape, labels)
    job = _Job(ship(net, sc), positions, tuple(columns), tuple(shapes), int(batch_size), output,
               None if labels is None else tuple(labels), isinstance(data, DataFrame))
    scored = (data.rdd if job.rows else data).mapPartitionsWithIndex(
        functools.partial(_score_partition, job=job), preservesPartitioning=True)
    if not job.rows:
        return scored
    schema = StructType([*data.schema.fields, StructField(output_col, cell_type, nullable=False)])
    return data.sparkSession.createDataFrame(scored, schema, verifySchema=False)


def _as_model(model: Module | str | os.PathLike) -> Module:
    if isinstance(model, Module):
        return model
    if isinstance(model, (str, os.PathLike)):
        if os.fspath(model).lower().endswith(".onnx"):
            from zoo.importers.onnx import load_onnx

            return load_onnx(os.fspath(model))
        return load_model(os.fspath(model))
    raise TypeError(f"predict: model must be a Module or a model file path, got {type(model).__name__}")


def _shapes(input_shape: Any, first: Any, columns: list[str]) -> list[tuple[int, ...]]:
    """Each input's per-row shape: given, or the first row's cells' shapes (none when there are no rows)."""
    if input_shape is not None:
        items = list(input_shape)
        shapes = [tuple(items)] if all(isinstance(d, (int, np.integer)) for d in items) else [tuple(s) for s in items]
        if len(shapes) != len(columns):
            raise ValueError(f"predict: {len(columns)} input(s) {columns} but {len(shapes)} input shape(s) {shapes}")
        return [tuple(int(d) for d in s) for s in shapes]
    if first is None:
        return []
    found = []
    for cell, column in zip(first, columns):
        cell = cell.toArray() if hasattr(cell, "toArray") else cell
        try:
            found.append(np.shape(np.asarray(cell, dtype=np.float64)))
        except (TypeError, ValueError):
            raise ValueError(f"predict: row 0, column '{column}': features are not a numeric array: "
                             f"{str(cell)[:80]}") from None
    return found


def _probe(model: Module, first: Any, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The per-row output shape, from the model run on the first row (or on zeros of the given input shapes)."""
    if first is None:
        xs = [np.zeros((1, *s), np.float32) for s in shapes]
    else:
        try:
            xs = [_cell_array(c, s)[None] for c, s in zip(first, shapes)]
        except BadRowError as err:
            raise ValueError(f"predict: the first row: {err}") from None
    flags = {id(m): m.training for m in model.modules()}
    model.evaluate()
    try:
        out = model.forward(*xs)
    except ValueError as err:
        raise ValueError(f"predict: the model rejects input(s) of shape {[x.shape[1:] for x in xs]}: {err}") from None
    finally:
        for m in model.modules():
            object.__setattr__(m, "training", flags[id(m)])
    if isinstance(out, (tuple, list)):
        raise ValueError(f"predict: the model returns {len(out)} outputs; predict scores single-output models "
                         "(cut the graph with new_graph(outputs=[...]) to choose one)")
    return tuple(np.shape(out)[1:])


def _output_type(output: str, out_shape: tuple[int, ...], labels: Sequence[str] | None) -> DataType:
    size = math.prod(out_shape)
    if output == "vector":
        return VectorUDT()
    if output == "array":
        cell: DataType = FloatType()
        for _ in out_shape:
            cell = ArrayType(cell, containsNull=False)
        return cell
    if output == "scalar":
        if size != 1:
            raise ValueError(f"predict: output='scalar' needs one output value per row, the model gives {out_shape}")
        return DoubleType()
    if labels is not None and len(labels) != size:
        raise ValueError(f"predict: {len(labels)} labels for {size} output values per row")
    return StringType() if labels is not None else LongType()


# ------------------------------------------------------------------ Spark ML
class ModelTransformer(Transformer, HasInputCol, HasOutputCol):
    """A pyspark.ml Transformer running :func:`predict` (on the fused model), for use in a ``Pipeline``.

    Args:
        model: the network (or a model file path, see :func:`predict`).
        inputCol: features column (default "features").
        outputCol: output column (default "prediction").
        batchSize: rows per forward pass (default 256).
        outputType: "vector", "array", "label" or "scalar" (default "vector").
        inputShape: one row's model input shape; empty: the column's own shape.
        labels: class names for outputType "label".

    Examples:
        >>> scorer = ModelTransformer(zoo.load_onnx("model.onnx"), inputCol="x", outputType="label")
        >>> Pipeline(stages=[assembler, scorer]).fit(df).transform(df)
    """

    batchSize: "Param[int]" = Param(Params._dummy(), "batchSize", "rows per forward pass",
                                    typeConverter=TypeConverters.toInt)
    outputType: "Param[str]" = Param(Params._dummy(), "outputType", f"output column kind, one of {OUTPUTS}",
                                     typeConverter=TypeConverters.toString)
    inputShape: "Param[list[int]]" = Param(Params._dummy(), "inputShape",
                                           "one row's model input shape (empty: the column's own shape)",
                                           typeConverter=TypeConverters.toListInt)

    def __init__(self, model: Module | str | os.PathLike, inputCol: str = "features",
                 outputCol: str = "prediction", batchSize: int = 256, outputType: str = "vector",
                 inputShape: Sequence[int] = (), labels: Sequence[str] | None = None) -> None:
        super().__init__()
        self.model = _as_model(model)
        self.labels = None if labels is None else list(labels)
        self._setDefault(inputCol="features", outputCol="prediction", batchSize=256, outputType="vector",
                         inputShape=[])
        self._set(inputCol=inputCol, outputCol=outputCol, batchSize=batchSize, outputType=outputType,
                  inputShape=list(inputShape))

    def _transform(self, dataset: DataFrame) -> DataFrame:
        shape = self.getOrDefault(self.inputShape)
        return predict(self.model, dataset, self.getInputCol(), self.getOutputCol(),
                       self.getOrDefault(self.batchSize), self.getOrDefault(self.outputType),
                       shape or None, self.labels)
