"""One training run of an NN estimator: DataFrame columns -> Arrow batches of float32 samples and labels
(decoded on the workers) -> DistributedTrainer.fit."""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
import pyarrow as pa
from pyspark import TaskContext
from pyspark.ml.linalg import VectorUDT
from pyspark.sql import DataFrame
from pyspark.sql.types import ArrayType, BooleanType, DataType, NumericType, UserDefinedType

from bigdl_runtime.nn.module import Module
from bigdl_runtime.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Cosine, Optimizer, RMSprop
from bigdl_runtime.spark.arrow import BadCell, binary_column, list_column
from bigdl_runtime.spark.errors import streamed, worker_errors
from bigdl_runtime.spark.trainer import DistributedTrainer
from bigdl_runtime.train import History

from .columns import FeatureSpec, class_indices, targets
from .params import OPTIMIZERS, SCHEDULES


def make_optimizer(name: str, model: Module, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                   schedule: str = "constant", epochs: int = 1) -> Optimizer:
    """The optimizer called ``name`` over ``model``'s parameters (frozen ones are skipped at each step).

    Args:
        name: one of ``sgd`` (uses ``momentum``), ``adam``, ``adamw``, ``rmsprop``, ``adagrad``, ``adadelta``.
        schedule: ``constant``, or ``cosine`` annealing to 0 over ``epochs``.

    Examples:
        >>> make_optimizer("adam", net, lr=1e-3, schedule="cosine", epochs=5)
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer '{name}'; known: {OPTIMIZERS}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learningRateSchedule '{schedule}'; known: {SCHEDULES}")
    if name != "sgd" and momentum:
        raise ValueError(f"momentum is a parameter of 'sgd', not of '{name}'")
    kwargs: dict[str, Any] = {"lr": lr, "weight_decay": weight_decay}
    if schedule == "cosine":
        kwargs["schedule"] = Cosine(t_max=epochs, by="epoch")
    if name == "sgd":
        kwargs["momentum"] = momentum
    kind = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
            "adadelta": Adadelta}[name]
    return kind(model.parameters(), **kwargs)


#: the column of a training frame holding each row's sample shape (JSON), which the driver reads from one row
SHAPE_COL = "_sample_shape"
#: output rows per Arrow batch of a training frame are cut so that a batch's features stay below this many bytes
BATCH_BYTES = 64 << 20


def training_frame(df: DataFrame, feature: FeatureSpec, label_col: str, classification: bool, what: str,
                   shape: tuple[int, ...] | None = None) -> DataFrame:
    """``df``'s (features, label) columns decoded on the workers through Arrow (lazy; one ``mapInArrow``).

    The result has the features column as ``binary`` (each row's float32 sample as raw bytes, shipped to the
    JVM in one piece), the label column (class indices as ``long`` for classification; else float32 arrays,
    a number becoming one value) and :data:`SHAPE_COL`, the sample shape (JSON). Every sample must have the shape
    ``shape`` when given, else the shape of its partition's first sample.

    Raises (when an action runs it):
        ValueError: naming the first bad row by its position in its partition and its column (and an image's origin).
    """
    missing = [c for c in (feature.column, label_col) if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the DataFrame has no column(s) {missing}; its columns are {df.columns}")
    selected = df.select(feature.column, label_col)
    label_type = "long"
    if not classification:
        depth = _label_depth(selected.schema.fields[1].dataType)
        if depth is None:
            raise ValueError(f"{what}: column '{label_col}' is {selected.schema.fields[1].dataType.simpleString()}: "
                             "labels must be numbers, numeric arrays or Vectors")
        label_type = "float"
        for _ in range(depth):
            label_type = f"array<{label_type}>"
    schema = f"`{feature.column}` binary, `{label_col}` {label_type}, `{SHAPE_COL}` string"
    task = functools.partial(_training_batches, spec=_FrameSpec(feature, label_col, classification, what, shape))
    return selected.mapInArrow(task, schema)


def _label_depth(data_type: DataType) -> int | None:
    """How deep the float arrays of a regression label nest (a number becomes one value), None if not numeric."""
    if isinstance(data_type, UserDefinedType) and data_type.sqlType() == VectorUDT.sqlType():
        return 1
    depth = 0
    while isinstance(data_type, ArrayType):
        data_type, depth = data_type.elementType, depth + 1
    return max(depth, 1) if isinstance(data_type, (NumericType, BooleanType)) else None


@dataclass(frozen=True)
class _FrameSpec:
    feature: FeatureSpec
    label: str
    classification: bool
    what: str
    shape: tuple[int, ...] | None


@streamed
def _training_batches(batches: Iterable[pa.RecordBatch], spec: _FrameSpec) -> Iterator[pa.RecordBatch]:
    """The task of :func:`training_frame`: each Arrow batch decoded to samples and labels without row loops (an image
    chain runs image by image)."""
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    expected, first = spec.shape, 0
    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        column = spec.feature.column
        try:
            x = spec.feature.decode(batch.column(0))
            if expected is not None and x.shape[1:] != tuple(expected):
                raise BadCell(0, f"{_origin(batch.column(0), 0)}a sample of shape {x.shape[1:]} differs from the "
                                 f"first sample's {tuple(expected)}")
            expected = x.shape[1:]
            column = spec.label
            y = class_indices(batch.column(1)) if spec.classification else targets(batch.column(1))
        except BadCell as err:
            raise ValueError(f"{spec.what}: row {first + err.row} of partition {partition}, column '{column}': "
                             f"{err.message}") from None
        except TypeError as err:
            raise ValueError(f"{spec.what}: row {first} of partition {partition}, column '{column}': {err}") \
                from None
        x = np.ascontiguousarray(x, dtype="<f4")
        row_bytes = x[0].nbytes
        step = max(1, BATCH_BYTES // max(1, row_bytes))
        shape = json.dumps(list(x.shape[1:]))
        for lo in range(0, n, step):
            part = x[lo:lo + step]
            rows = len(part)
            features = binary_column(np.arange(rows + 1, dtype=np.int32) * np.int32(row_bytes), part)
            labels = pa.array(y[lo:lo + step], pa.int64()) if spec.classification else list_column(y[lo:lo + step])
            yield pa.RecordBatch.from_arrays([features, labels, pa.array([shape] * rows, pa.string())],
                                             names=[spec.feature.column, spec.label, SHAPE_COL])
        first += n


def _origin(column: pa.Array, row: int) -> str:
    """``image 'path': `` for a cell of an image column, else nothing."""
    if pa.types.is_struct(column.type) and "origin" in {f.name for f in column.type}:
        return f"image '{column.field('origin')[row].as_py()}': "
    return ""


def fit_network(stage: Any, model: Module, loss: Any, df: DataFrame, classification: bool,
                validation: DataFrame | None) -> History:
    """Train ``model`` in place on ``df`` as the estimator ``stage``'s Params say; the run's History."""
    feature = FeatureSpec(stage.getFeaturesCol(), tuple(stage.getFeatureShape()), stage.getFeaturePreprocessing())
    label = stage.getLabelCol()
    epochs = stage.getMaxEpoch()
    if epochs < 1:
        raise ValueError(f"{type(stage).__name__}: maxEpoch must be >= 1, got {epochs}")
    optimizer = make_optimizer(stage.getOptimizer(), model, stage.getLearningRate(), stage.getMomentum(),
                               stage.getWeightDecay(), stage.getLearningRateSchedule(), epochs)
    spark = df.sparkSession
    trainer = DistributedTrainer(model, loss, optimizer, spark, num_partitions=stage.getNumPartitions() or None,
                                 mode=stage.getTrainingMode())
    shape = feature.shape or _first_shape(df, feature, training_frame(df, feature, label, classification, "fit data"))
    data = training_frame(df, feature, label, classification, "fit data", shape)
    val = training_frame(validation, feature, label, classification, "validation data", shape) \
        if validation is not None else None
    return trainer.fit(data, batch_size=stage.getBatchSize(), epochs=epochs, validation=val,
                       metrics=tuple(stage.getValidationMetrics()), checkpoint=stage.getCheckpointPath() or None,
                       seed=stage.getSeed(), progress=stage.getShowProgress(), features_col=feature.column,
                       label_col=label, feature_shape=shape)


def _first_shape(df: DataFrame, feature: FeatureSpec, frame: DataFrame) -> tuple[int, ...]:
    """The sample shape of ``df``'s first row.

    The row is read as Arrow and decoded here, on the driver: a ``take(1)`` of the training frame would stop
    its Python task after the first batch, which PySpark's daemon reports on stderr with a traceback
    ("BrokenPipeError" in ``daemon.py``) although nothing failed. A first row that does not decode is left
    to ``frame``'s task, whose error names its partition and position.
    """
    with worker_errors():
        head = df.select(feature.column).limit(1).toArrow()
    if not head.num_rows:
        raise ValueError("fit data: no samples")
    try:
        return tuple(int(d) for d in feature.decode(head.column(0).combine_chunks()).shape[1:])
    except (BadCell, TypeError, ValueError):
        with worker_errors():
            first = frame.select(SHAPE_COL).take(1)     # raises the positioned error
        return tuple(json.loads(first[0][0]))
