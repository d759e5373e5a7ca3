"""Spark-scale inference: score a DataFrame or an RDD with a model in one call.

``predict(model, df)`` returns ``df`` with one more column, computed on the
workers by an Arrow UDF when an action uses it (lazy, like a Spark ML
transformer). Only the features column (and the plain-valued columns that name a bad
row) crosses from the JVM to the Python workers, as Arrow batches, decoded to numpy
with no Python loop over rows (:mod:`bigdl_runtime.spark.arrow`: array, nested-array,
ml Vector, number or raw-bytes columns); only the output column comes back, and the
JVM joins it to the rows it kept. The model travels once, as model-file bytes (our protobuf format,
never pickle) in a broadcast keyed by a hash of those bytes, so scoring the
same model again reuses both the broadcast and the workers' copies. Each Python
worker rebuilds the model on first use and keeps it in the runtime's replica
cache (:func:`bigdl_runtime.spark.worker.replica`, the one the distributed
trainer uses), so later tasks and later calls skip the rebuild. Rows are fed
``batch_size`` at a time in evaluation mode, to the model as
:func:`~bigdl_runtime.nn.fuse.fuse_for_inference` fuses it (batch norms folded
into convolutions, ReLUs into the convolutions before them, convolution chains run
as oneDNN plans over blocked activations, compiled per batch shape on first use;
``fuse=False`` scores the model as it is); partitioning, row order and every other column are
kept.

The Arrow machinery (shipping the model, one Arrow UDF) is in :mod:`zoo.pipeline.arrow_scoring`.
Memory per Python worker: one Arrow batch (Spark's
``spark.sql.execution.arrow.maxRecordsPerBatch`` rows, 10,000 by default, and at
most ``spark.sql.execution.arrow.maxBytesPerBatch``, 64 MB by default) plus one
forward pass of ``batch_size`` rows.

:func:`~zoo.pipeline.arrow_scoring.score_dataframe` is the same machinery for other scorers (the NN stages
of :mod:`zoo.pipeline.model`). An RDD's elements are Python objects already; they are
stacked ``batch_size`` at a time.

Examples:
    >>> import zoo
    >>> scored = zoo.predict(zoo.load_onnx("resnet18.onnx"), images_df, input_col="pixels",
    ...                      input_shape=(3, 224, 224), output="label", labels=class_names)
    >>> scored.select("id", "prediction").show()
"""
from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
from pyspark import RDD
from pyspark.ml import Transformer
from pyspark.ml.linalg import DenseVector, VectorUDT
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasInputCol, HasOutputCol
from pyspark.sql import DataFrame
from pyspark.sql.types import (ArrayType, BinaryType, BooleanType, DataType, DoubleType, FloatType, LongType,
                               NumericType, StringType, StructField, UserDefinedType)

from bigdl_runtime.nn.fuse import fuse_for_inference
from bigdl_runtime.nn.module import Module
from bigdl_runtime.serialization import load_model
from bigdl_runtime.spark.arrow import BadCell, list_column, tensors, vector_column

from .arrow_scoring import ArrowInput, ArrowScoring, BadRowError, ShippedModel, score_dataframe, ship

OUTPUTS = ("vector", "array", "label", "scalar")


@dataclass(frozen=True)
class _Tensors:
    """Decodes a predict input column to ``(rows, *shape)`` (int64 for integer features, else float32)."""

    shape: tuple[int, ...]

    def __call__(self, column: pa.Array) -> np.ndarray:
        size = math.prod(self.shape)
        return tensors(column, self.shape, wanted=f"the model input is {self.shape} ({size} values)")


@dataclass(frozen=True)
class _Cells:
    """predict's output column (see :data:`OUTPUTS`) from the model's ``(rows, *out_shape)`` outputs."""

    output: str
    out_shape: tuple[int, ...]
    labels: tuple[str, ...] | None

    def __call__(self, out: np.ndarray) -> list[pa.Array]:
        if self.output != "vector" and out.shape[1:] != self.out_shape:
            raise ValueError(f"the model's outputs have shape {out.shape[1:]}, the first row's had {self.out_shape}")
        flat = out.reshape(out.shape[0], -1)
        if self.output == "vector":
            return [vector_column(flat)]
        if self.output == "array":
            return [list_column(out, pa.float32())]
        if self.output == "scalar":
            return [pa.array(flat[:, 0].astype(np.float64))]
        best = pa.array(flat.argmax(axis=1).astype(np.int64))
        return [pa.array(self.labels, pa.string()).take(best) if self.labels is not None else best]


# ------------------------------------------------------------------ RDDs: elements already in Python
def _cell_array(cell: Any, shape: tuple[int, ...]) -> np.ndarray:
    """One RDD element (array, nested list or ml Vector) as an array of ``shape``."""
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
class _RddJob:
    """What every RDD task needs (picklable)."""

    model: ShippedModel
    shapes: tuple[tuple[int, ...], ...]
    batch_size: int
    cells: _Cells


def _score_elements(partition: int, records: Iterable[Any], job: _RddJob) -> Iterator[Any]:
    """The RDD task: ``batch_size`` elements per forward pass, output cells in order."""
    model = None
    offset = 0
    for batch in _chunks(records, job.batch_size):
        inputs = []
        for k, shape in enumerate(job.shapes):
            column = "features" if len(job.shapes) == 1 else f"features[{k}]"
            arrays = []
            for i, record in enumerate(batch):
                try:
                    arrays.append(_cell_array(record if len(job.shapes) == 1 else record[k], shape))
                except BadRowError as err:
                    raise BadRowError(f"predict: row {offset + i} of partition {partition}, column '{column}': "
                                      f"{err}") from None
            stacked = np.stack(arrays)
            inputs.append(stacked if stacked.dtype.kind in "if" else stacked.astype(np.float32))
        model = job.model.get() if model is None else model
        out = np.asarray(model.forward(*inputs))
        yield from _python_cells(out, job.cells)
        offset += len(batch)


def _chunks(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _python_cells(out: np.ndarray, cells: _Cells) -> list[Any]:
    """An RDD's output elements: DenseVectors, numpy arrays, floats, class indices or labels."""
    flat = out.reshape(out.shape[0], -1)
    if cells.output == "vector":
        return [DenseVector(row) for row in flat.astype(np.float64)]
    if cells.output == "array":
        return list(out)
    if cells.output == "scalar":
        return flat[:, 0].astype(np.float64).tolist()
    best = flat.argmax(axis=1)
    return [cells.labels[i] for i in best] if cells.labels is not None else best.tolist()


# ------------------------------------------------------------------ driver side
def predict(model: Module | str | os.PathLike, data: DataFrame | RDD, input_col: str | Sequence[str] = "features",
            output_col: str = "prediction", batch_size: int = 256, output: str = "vector",
            input_shape: Sequence[int] | Sequence[Sequence[int]] | None = None,
            labels: Sequence[str] | None = None, fuse: bool = True) -> DataFrame | RDD:
    """Score every row of ``data`` with ``model`` on the Spark workers (lazy; see the module doc).

    Args:
        model: a Module (e.g. from ``zoo.load_onnx``), a catalog model (``zoo.load_pretrained``), or the path
            of a model file (``.onnx`` files go through the ONNX importer, others are our model files).
        data: a DataFrame, or an RDD whose elements are the features (a tuple of
            them for a multi-input model).
        input_col: the features column (array, nested array, ml Vector, number, or binary
            holding each row's float32 or uint8 values as raw bytes, see
            :mod:`bigdl_runtime.spark.arrow`), or a list of columns for a multi-input model.
            Ignored for an RDD.
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
            up to float rounding; ResNet-18 b32 1.5x and MobileNetV2 b32 2.5x faster than with the batch
            norms folded alone, see the README's benchmark table); ``model``
            itself is left as it is.

    Returns:
        a DataFrame with all of ``data``'s columns plus ``output_col``, or an RDD
        of output cells, in the input's order and partitioning.

    Raises:
        ValueError: bad arguments, a column that holds no numbers, or the model rejects
            the first row (raised here); a row that is null or has the wrong shape
            fails its task with a :class:`BadRowError` naming its partition, position
            and other columns.

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
        for column in columns:
            problem = tensor_column_problem(data.schema[column].dataType)
            if problem is not None:
                raise ValueError(f"predict: column '{column}' ({data.schema[column].dataType.simpleString()}) "
                                 f"{problem}")
            if isinstance(data.schema[column].dataType, BinaryType) and input_shape is None:
                raise ValueError(f"predict: column '{column}' holds raw bytes; give input_shape to read them as "
                                 "float32 or uint8 values")
        head = data.select(*columns).limit(1).toArrow() if input_shape is None else None  # a job only without a shape
        first = [head.column(i) for i in range(len(columns))] if head is not None and head.num_rows else None
        sc = data.sparkSession.sparkContext
    elif isinstance(data, RDD):
        columns = ["features"] if n_inputs == 1 else [f"features[{i}]" for i in range(n_inputs)]
        head = data.take(1) if input_shape is None else []
        first = None if not head else [head[0]] if n_inputs == 1 else list(head[0])
        sc = data.context
    else:
        raise TypeError(f"predict: data must be a DataFrame or an RDD, got {type(data).__name__}")
    shapes = _shapes(input_shape, first, columns)
    out_shape = _probe(net, first, shapes) if first is not None or shapes else (1,)
    cell_type = _output_type(output, out_shape, labels)
    cells = _Cells(output, out_shape, None if labels is None else tuple(labels))
    shipped = ship(net, sc)
    if isinstance(data, RDD):
        job = _RddJob(shipped, tuple(shapes), int(batch_size), cells)
        return data.mapPartitionsWithIndex(functools.partial(_score_elements, job=job), preservesPartitioning=True)
    inputs = tuple(ArrowInput(c, _Tensors(s)) for c, s in zip(columns, shapes))
    scoring = ArrowScoring("predict", shipped, inputs, cells, (output_col,), int(batch_size))
    return score_dataframe(data, scoring, [StructField(output_col, cell_type, nullable=False)])


def tensor_column_problem(data_type: DataType) -> str | None:
    """Why a column of Spark type ``data_type`` cannot hold model inputs (None when it can)."""
    if isinstance(data_type, UserDefinedType):
        return None if data_type.sqlType() == VectorUDT.sqlType() else "is not an ml Vector or array column"
    if isinstance(data_type, BinaryType):
        return None
    while isinstance(data_type, ArrayType):
        data_type = data_type.elementType
    if isinstance(data_type, (NumericType, BooleanType)):
        return None
    return ("holds no numbers: features must be a numeric array (possibly nested), an ml Vector, a number or "
            "raw float32 / uint8 bytes")


def _as_model(model: Module | str | os.PathLike) -> Module:
    if not isinstance(model, (str, os.PathLike)):
        from zoo.catalog.pretrained import as_module

        return as_module(model, "predict")
    if os.fspath(model).lower().endswith(".onnx"):
        from zoo.importers.onnx import load_onnx

        return load_onnx(os.fspath(model), fuse=False)  # predict's own ``fuse`` decides
    return load_model(os.fspath(model))


def _shapes(input_shape: Any, first: list[Any] | None, columns: list[str]) -> list[tuple[int, ...]]:
    """Each input's per-row shape: given, or the first row's cells' shapes (none when there are no rows).

    ``first``: the first row's cells, as one-row Arrow columns (a DataFrame) or Python objects (an RDD).
    """
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
        try:
            if isinstance(cell, (pa.Array, pa.ChunkedArray)):
                found.append(tensors(cell).shape[1:])
            else:
                cell = cell.toArray() if hasattr(cell, "toArray") else cell
                found.append(np.shape(np.asarray(cell, dtype=np.float64)))
        except (TypeError, ValueError) as err:
            text = err.message if isinstance(err, BadCell) else "features are not a numeric array"
            raise ValueError(f"predict: row 0, column '{column}': {text}: {str(_py(cell))[:80]}") from None
    return found


def _py(cell: Any) -> Any:
    return cell.to_pylist()[0] if isinstance(cell, (pa.Array, pa.ChunkedArray)) else cell


def _probe(model: Module, first: list[Any] | None, shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """The per-row output shape, from the model run on the first row (or on zeros of the given input shapes)."""
    if first is None:
        xs = [np.zeros((1, *s), np.float32) for s in shapes]
    else:
        try:
            xs = [_Tensors(s)(c) if isinstance(c, (pa.Array, pa.ChunkedArray)) else _cell_array(c, s)[None]
                  for c, s in zip(first, shapes)]
        except (BadCell, BadRowError) as err:
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
