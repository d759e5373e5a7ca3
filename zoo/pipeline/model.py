"""Fitted NN stages: Transformers that run a network over a DataFrame's rows on the Spark workers.

``transform`` is lazy, like every Spark ML transformer: it returns a DataFrame
with the input's columns plus the output columns, computed by an Arrow UDF
when an action uses them (:func:`zoo.pipeline.arrow_scoring.score_dataframe`: only the features column (and
the plain-valued columns naming a bad row) crosses to Python, in Arrow batches, decoded
to numpy by :meth:`~zoo.pipeline.columns.FeatureSpec.decode`). The network
travels as model-file bytes in a broadcast (once per distinct weights) and each
Python worker keeps its rebuilt copy, as :func:`zoo.pipeline.arrow_scoring.ship`
arranges. Rows are batched (``batchSize``) through the network in evaluation
mode; the row order and partitioning are kept. A bad row fails its task with an
error naming its partition, position and plain-valued columns.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.ml import Model, Transformer
from pyspark.ml.linalg import VectorUDT
from pyspark.ml.param.shared import HasOutputCol, HasPredictionCol, HasProbabilityCol
from pyspark.sql import DataFrame
from pyspark.sql.types import BinaryType, DataType, DoubleType, StructField

from bigdl_runtime.nn.module import Module
from zoo.catalog.pretrained import as_module
from bigdl_runtime.spark.arrow import vector_column

from .columns import FeatureSpec, is_image_type
from .arrow_scoring import ArrowInput, ArrowScoring, score_dataframe, ship
from .inference import tensor_column_problem
from .params import HasFeatureInput
from .persistence import NNPersistable
from .stage import set_params


@dataclass(frozen=True)
class _Outputs:
    """The output columns from the network's outputs: ``kind`` is "vector", "classifier" or
    "classifier+probability"."""

    kind: str

    def __call__(self, outputs: np.ndarray) -> list[pa.Array]:
        flat = outputs.reshape(outputs.shape[0], -1).astype(np.float64)
        if self.kind == "vector":
            return [vector_column(flat)]
        predicted = pa.array(flat.argmax(axis=1).astype(np.float64))
        if self.kind == "classifier":
            return [predicted]
        shifted = np.exp(flat - flat.max(axis=1, keepdims=True))
        return [predicted, vector_column(shifted / shifted.sum(axis=1, keepdims=True))]


class _NNTransformer(Transformer, HasFeatureInput, NNPersistable):
    """Runs ``model`` over the features column; subclasses choose the output columns."""

    def __init__(self, model: Module | None = None, **params: Any) -> None:
        super().__init__()
        self.model = None if model is None else as_module(model, type(self).__name__)
        set_params(self, params)

    def _output_fields(self) -> tuple[str, list[tuple[str, DataType]]]:
        """The :class:`_Outputs` kind and the new columns' names and types."""
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
        data_type = dataset.schema[column].dataType
        if not is_image_type(data_type) and tensor_column_problem(data_type) is not None:
            raise ValueError(f"{type(self).__name__}: features column '{column}' ({data_type.simpleString()}) "
                             f"{tensor_column_problem(data_type)} (or an image struct)")
        if isinstance(data_type, BinaryType) and not self.getFeatureShape():
            raise ValueError(f"{type(self).__name__}: features column '{column}' holds raw bytes; set featureShape "
                             "to read them as float32 or uint8 values")
        feature = FeatureSpec(column, tuple(self.getFeatureShape()), self.getFeaturePreprocessing())
        scoring = ArrowScoring(type(self).__name__, ship(self.model, dataset.sparkSession.sparkContext),
                               (ArrowInput(column, feature.decode),), _Outputs(kind),
                               tuple(name for name, _ in fields), self.getBatchSize())
        return score_dataframe(dataset, scoring, [StructField(n, t, False) for n, t in fields])

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
        model: the network (any ``bigdl_runtime`` Module taking one input, or a catalog model).
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
        model: a network (Graph or Sequential) or a catalog model.
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
