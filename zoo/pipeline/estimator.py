"""NNEstimator and NNClassifier: Spark ML Estimators that train a network with the DistributedTrainer.

They take a ``bigdl_runtime`` network and a loss, read the features column
(Vector, array or Spark image struct, see :mod:`zoo.pipeline.columns`) and the
label column of the DataFrame given to ``fit``, train a *copy* of the network
(so fitting twice starts from the same weights), and return the fitted
:class:`~zoo.pipeline.NNModel` / :class:`~zoo.pipeline.NNClassifierModel`.
Frozen parameters (``model.freeze(...)``) stay fixed, which is how a new head
is trained on a pretrained backbone (see :mod:`zoo.pipeline.transfer`).
"""
from __future__ import annotations

from typing import Any

from pyspark.ml import Estimator
from pyspark.ml.param.shared import HasLabelCol, HasPredictionCol, HasProbabilityCol
from pyspark.sql import DataFrame

from bigdl_runtime.nn.losses import CrossEntropyLoss, MSELoss
from bigdl_runtime.nn.module import Module
from zoo.catalog.pretrained import as_module
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes

from .model import NNClassifierModel, NNModel
from .params import HasFeatureInput, HasTraining
from .persistence import NNPersistable
from .stage import set_params
from .training import fit_network


class NNEstimator(Estimator, HasFeatureInput, HasTraining, HasLabelCol, HasPredictionCol, NNPersistable):
    """Trains ``model`` to map the features column to the label column (BigDL's ``NNEstimator``).

    Args:
        model: the network (a ``bigdl_runtime`` Module with one input, or a catalog model from
            ``zoo.load_pretrained``).
        loss: the loss module; default ``MSELoss()``. The label column holds
            numbers or arrays/Vectors (float32 targets).
        **params: any of the Params: ``featuresCol`` ("features"), ``labelCol``
            ("label"), ``predictionCol`` ("prediction"), ``batchSize`` (32, the
            global mini-batch), ``maxEpoch`` (10), ``learningRate`` (0.01),
            ``optimizer`` ("sgd"; adam, adamw, rmsprop, adagrad, adadelta),
            ``momentum`` (0, SGD only), ``weightDecay`` (0),
            ``learningRateSchedule`` ("constant" or "cosine"), ``featureShape``,
            ``featurePreprocessing``, ``validationMetrics`` (["loss"]),
            ``checkpointPath``, ``numPartitions``, ``seed`` (0), ``showProgress``,
            ``trainingMode`` ("gang", or "iteration": see DistributedTrainer's ``mode``).

    After ``fit``, ``estimator.history`` (and the fitted model's ``history``)
    holds the run's per-iteration and per-validation rows.

    Examples:
        >>> est = NNEstimator(Sequential(Linear(3, 1)), MSELoss(), featuresCol="x", maxEpoch=5)
        >>> est.setValidation(val_df, ["loss", "mae"])
        >>> scored = est.fit(train_df).transform(test_df)
    """

    _classification = False

    def __init__(self, model: Module | None = None, loss: Any = None, **params: Any) -> None:
        super().__init__()
        self.model = None if model is None else as_module(model, type(self).__name__)
        self.loss = loss if loss is not None else self._default_loss()
        self.history = None
        self._validation: DataFrame | None = None
        self._setDefault(labelCol="label", predictionCol="prediction")
        set_params(self, params)

    def _default_loss(self) -> Any:
        return MSELoss()

    def setParams(self, **params: Any) -> "NNEstimator":
        """Set several Params at once (``est.setParams(maxEpoch=3, learningRate=0.1)``)."""
        set_params(self, params)
        return self

    def setValidation(self, df: DataFrame | None, metrics: list[str] | None = None) -> "NNEstimator":
        """Evaluate ``metrics`` (default: ``validationMetrics``) on ``df`` after every epoch; None turns it off.

        The DataFrame is not saved with the estimator.
        """
        self._validation = df
        if metrics is not None:
            self._set(validationMetrics=list(metrics))
        return self

    def _fit(self, dataset: DataFrame) -> NNModel:
        if self.model is None:
            raise ValueError(f"{type(self).__name__}: no model to train")
        network = model_from_bytes(model_to_bytes(self.model), source=f"{type(self).__name__} model copy")
        history = fit_network(self, network, self.loss, dataset, self._classification, self._validation)
        fitted = self._fitted(network)
        self._copyValues(fitted)
        self.history = fitted.history = history
        return fitted

    def _fitted(self, network: Module) -> NNModel:
        return NNModel(network)

    def _saved_modules(self) -> dict[str, Module]:
        if self.model is None:
            raise ValueError(f"{type(self).__name__}: no model to save")
        return {"model": self.model, "loss": self.loss}

    @classmethod
    def _from_saved_modules(cls, modules: dict[str, Module]) -> "NNEstimator":
        return cls(modules["model"], modules["loss"])


class NNClassifier(NNEstimator, HasProbabilityCol):
    """Trains a classification network; labels are class indices 0..K-1 (BigDL's ``NNClassifier``).

    Labels may be numbers such as StringIndexer's doubles (2.0 is class 2);
    the network outputs one score per class (logits for the default
    ``CrossEntropyLoss``). The fitted :class:`NNClassifierModel` adds
    ``predictionCol`` (class index, double) and ``probabilityCol``.

    Examples:
        >>> indexer = StringIndexer(inputCol="species", outputCol="label")
        >>> assembler = VectorAssembler(inputCols=["a", "b", "c", "d"], outputCol="features")
        >>> clf = NNClassifier(mlp, maxEpoch=20, learningRate=0.1, validationMetrics=["top1"])
        >>> model = Pipeline(stages=[indexer, assembler, clf]).fit(df)
    """

    _classification = True

    def __init__(self, model: Module | None = None, loss: Any = None, **params: Any) -> None:
        super().__init__(model, loss, **params)
        self._setDefault(probabilityCol="probability", validationMetrics=["top1", "loss"])

    def _default_loss(self) -> Any:
        return CrossEntropyLoss()

    def _fitted(self, network: Module) -> NNClassifierModel:
        return NNClassifierModel(network)
