"""Fitted NN stages: Transformers that run a network over a DataFrame's rows on the Spark workers.

``transform`` is lazy, like every Spark ML transformer: it returns a DataFrame
with the input's columns plus the output columns, computed by a
``mapPartitions`` when an action runs. The network travels as model-file bytes
in a broadcast (once per distinct weights) and each Python worker keeps its
rebuilt copy, as :func:`zoo.pipeline.inference.ship` arranges. Rows are batched
(``batchSize``) through the network in evaluation mode; the row order and
partitioning are kept.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
from pyspark.ml import Model, Transformer
from pyspark.ml.linalg import DenseVector, VectorUDT
from pyspark.ml.param.shared import HasOutputCol, HasPredictionCol, HasProbabilityCol
from pyspark.sql import DataFrame
from pyspark.sql.types import DataType, DoubleType, StructField, StructType

from bigdl_runtime.nn.module import Module
from bigdl_runtime.spark.errors import tagged

from .columns import FeatureSpec
from .inference import ShippedModel, ship
from .params import HasFeatureInput
from .persistence import NNPersistable
from .stage import set_params

@dataclass(frozen=True)
class _TransformSpec:
    model: ShippedModel      # the network, broadcast once per distinct weights, cached per Python worker
    feature: FeatureSpec
    batch_size: int
    outputs: str             # which output columns: "vector", or "classifier" / "classifier+probability"


def _columns(outputs: np.ndarray, kind: str) -> list[tuple[Any, ...]]:
    """One tuple of output-column values per sample."""
    flat = outputs.reshape(outputs.shape[0], -1).astype(np.float64)
    if kind == "vector":
        return [(DenseVector(row),) for row in flat]
    predicted = flat.argmax(axis=1)
    if kind == "classifier":
        return [(float(p),) for p in predicted]
    shifted = np.exp(flat - flat.max(axis=1, keepdims=True))
    probabilities = shifted / shifted.sum(axis=1, keepdims=True)
    return [(float(p), DenseVector(q)) for p, q in zip(predicted, probabilities)]


@tagged
def _transform_partition(rows: Iterable[Any], spec: _TransformSpec, position: int) -> Iterator[tuple[Any, ...]]:
    net = spec.model.get()
    convert = spec.feature.converter()
    batch: list[Any] = []

    def flush() -> Iterator[tuple[Any, ...]]:
        x = np.stack([convert(row[position]) for row in batch])
        for row, extra in zip(batch, _columns(np.asarray(net.forward(x)), spec.outputs)):
            yield (*row, *extra)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) == spec.batch_size:
            yield from flush()
    if batch:
        yield from flush()


class _NNTransformer(Transformer, HasFeatureInput, NNPersistable):
    """Runs ``model`` over the features column; subclasses choose the output columns."""

    def __init__(self, model: Module | None = None, **params: Any) -> None:
        super().__init__()
        if model is not None and not isinstance(model, Module):
            raise TypeError(f"{type(self).__name__}: model must be a bigdl_runtime Module, got {type(model).__name__}")
        self.model = model
        set_params(self, params)

    def _output_fields(self) -> tuple[str, list[tuple[str, DataType]]]:
        """The ``outputs`` kind for :func:`_columns` and the new columns' names and types."""
        raise NotImplementedError

    def _transform(self, dataset: DataFrame) -> DataFrame:
        if self.model is None:
            raise ValueError(f"{type(self).__name__}: no model to run")
        column = self.getFeaturesCol()
        if column not in dataset.columns:
            raise ValueError(f"{type(self).__name__}: the DataFrame has no features column '{column}'; its "
                             f"columns are {dataset.columns}")
        kind, fields = self._output_fields()
        clash = [name for name, _ in fields if name in dataset.columns]
        if clash:
            raise ValueError(f"{type(self).__name__}: output column(s) {clash} already exist; set other names")
        spark = dataset.sparkSession
        spec = _TransformSpec(ship(self.model, spark.sparkContext),
                              FeatureSpec(column, tuple(self.getFeatureShape()), self.getFeaturePreprocessing()),
                              self.getBatchSize(), kind)
        rows = dataset.rdd.mapPartitions(functools.partial(
            _transform_partition, spec=spec, position=dataset.columns.index(column)))
        schema = StructType([*dataset.schema.fields, *(StructField(n, t, False) for n, t in fields)])
        return spark.createDataFrame(rows, schema, verifySchema=False)

    def _saved_modules(self) -> dict[str, Module]:
        if self.model is None:
            raise ValueError(f"{type(self).__name__}: no model to save")
        return {"model": self.model}

    @classmethod
    def _from_saved_modules(cls, modules: dict[str, Module]) -> "_NNTransformer":
        return cls(modules["model"])


class NNModel(_NNTransformer, Model, HasPredictionCol):
    """A fitted :class:`~zoo.pipeline.NNEstimator`: the network's output as an ml Vector column.

    Args:
        model: the network (any ``bigdl_runtime`` Module taking one input).
        **params: ``featuresCol``, ``predictionCol`` (default "prediction"),
            ``batchSize``, ``featureShape``, ``featurePreprocessing``.

    Examples:
        >>> scored = NNModel(net, featuresCol="x", featureShape=[4]).transform(df)
        >>> scored.select("prediction").first()[0]        # DenseVector of the network's outputs
    """

    def _output_fields(self) -> tuple[str, list[tuple[str, DataType]]]:
        return "vector", [(self.getPredictionCol(), VectorUDT())]


class NNClassifierModel(_NNTransformer, Model, HasPredictionCol, HasProbabilityCol):
    """A fitted :class:`~zoo.pipeline.NNClassifier`: the predicted class index and class probabilities.

    ``predictionCol`` (double) holds the index of the largest output, like
    Spark's classifiers (decode it with ``IndexToString``); ``probabilityCol``
    (ml Vector) holds the softmax of the outputs, which are the probabilities
    whether the network ends in logits or in ``LogSoftmax``. Set
    ``probabilityCol`` to "" to skip it.
    """

    def _output_fields(self) -> tuple[str, list[tuple[str, DataType]]]:
        prediction = [(self.getPredictionCol(), DoubleType())]
        if not self.getProbabilityCol():
            return "classifier", prediction
        return "classifier+probability", [*prediction, (self.getProbabilityCol(), VectorUDT())]


class NNFeatureExtractor(_NNTransformer, HasOutputCol):
    """The output of a network's inner layer as an ml Vector column, to train Spark ML models on.

    Args:
        model: a network (Graph or Sequential).
        layer: the node/child name whose output becomes the features (the
            network is cut there, see :func:`zoo.pipeline.transfer.cut`);
            None uses the whole network.
        **params: ``featuresCol`` (input), ``outputCol`` (default "nnFeatures"),
            ``batchSize``, ``featureShape``, ``featurePreprocessing``.

    Examples:
        >>> extractor = NNFeatureExtractor(pretrained, layer="fc2", featuresCol="image",
        ...                                featurePreprocessing=chain_json)
        >>> lr = LogisticRegression(featuresCol="nnFeatures").fit(extractor.transform(train))
    """

    def __init__(self, model: Module | None = None, layer: str | None = None, **params: Any) -> None:
        if model is not None and layer is not None:
            from .transfer import cut

            model = cut(model, layer)
        super().__init__(model, **params)
        self._setDefault(outputCol="nnFeatures")

    def _output_fields(self) -> tuple[str, list[tuple[str, DataType]]]:
        return "vector", [(self.getOutputCol(), VectorUDT())]
