"""Spark ML Params shared by the NN estimators and transformers.

Every value is plain JSON (numbers, strings, lists), so Spark ML's metadata
writer saves it as is; objects that are not Params (the network, the loss,
validation DataFrames) are handled by the stages themselves.
"""
from __future__ import annotations

import json
from typing import Any

from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.param.shared import HasBatchSize, HasFeaturesCol, HasLearningRate, HasMomentum, HasSeed

#: optimizer names -> the ``bigdl_runtime.optim`` class names they build
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta")
SCHEDULES = ("constant", "cosine")


def _to_shape(value: Any) -> list[int]:
    shape = TypeConverters.toListInt(value)
    if any(d < 1 for d in shape):
        raise TypeError(f"featureShape must hold positive sizes, got {shape}")
    return shape


def _to_json_chain(value: Any) -> str:
    """A preprocessing chain as its JSON text (accepts a zoo.feature.image transformer, the text or the list)."""
    if hasattr(value, "to_json"):
        value = value.to_json()
    elif not isinstance(value, str):
        value = json.dumps(value)
    if value:
        json.loads(value)  # must be valid JSON; raises a ValueError naming the position otherwise
    return value


class HasFeatureInput(HasFeaturesCol, HasBatchSize):
    """How a features column becomes the network's input: shape, preprocessing and batch size."""

    featureShape: "Param[list[int]]" = Param(
        Params._dummy(), "featureShape",
        "shape of one sample's network input (e.g. [1, 28, 28]); a vector or array column is reshaped "
        "to it; empty: the column's own shape", typeConverter=_to_shape)
    featurePreprocessing: "Param[str]" = Param(
        Params._dummy(), "featurePreprocessing",
        "JSON config of the zoo.feature.image transformer chain applied to an image column "
        "(empty: pixels as float32 CHW)", typeConverter=_to_json_chain)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(featuresCol="features", batchSize=32, featureShape=[], featurePreprocessing="")

    def getFeatureShape(self) -> list[int]:
        return self.getOrDefault(self.featureShape)

    def getFeaturePreprocessing(self) -> str:
        return self.getOrDefault(self.featurePreprocessing)


class HasTraining(HasLearningRate, HasMomentum, HasSeed):
    """What a training run needs beyond the data: epochs, optimizer, schedule, validation and checkpoints."""

    maxEpoch: "Param[int]" = Param(Params._dummy(), "maxEpoch", "number of epochs to train (>= 1)",
                                   typeConverter=TypeConverters.toInt)
    optimizer: "Param[str]" = Param(Params._dummy(), "optimizer", f"optimizer: one of {OPTIMIZERS}",
                                    typeConverter=TypeConverters.toString)
    weightDecay: "Param[float]" = Param(Params._dummy(), "weightDecay", "L2 weight decay (>= 0)",
                                        typeConverter=TypeConverters.toFloat)
    learningRateSchedule: "Param[str]" = Param(
        Params._dummy(), "learningRateSchedule", f"learning-rate schedule over the epochs: one of {SCHEDULES}",
        typeConverter=TypeConverters.toString)
    validationMetrics: "Param[list[str]]" = Param(
        Params._dummy(), "validationMetrics", "metrics computed on the validation data after every epoch "
        "(top1, top5, loss, mae, auc, binary_accuracy)", typeConverter=TypeConverters.toListString)
    checkpointPath: "Param[str]" = Param(
        Params._dummy(), "checkpointPath", "where to write a checkpoint after every epoch (local or any "
        "Hadoop URI); empty: no checkpoints", typeConverter=TypeConverters.toString)
    numPartitions: "Param[int]" = Param(
        Params._dummy(), "numPartitions", "model replicas (partitions of the training data); 0: the "
        "default parallelism", typeConverter=TypeConverters.toInt)
    showProgress: "Param[bool]" = Param(Params._dummy(), "showProgress", "print training progress on stderr",
                                        typeConverter=TypeConverters.toBoolean)
    trainingMode: "Param[str]" = Param(
        Params._dummy(), "trainingMode", "how DistributedTrainer runs: 'gang' (one barrier stage for the whole "
        "fit, numPartitions task slots at once) or 'iteration' (one Spark job per iteration)",
        typeConverter=TypeConverters.toString)

    def __init__(self) -> None:
        super().__init__()
        self._setDefault(learningRate=0.01, momentum=0.0, seed=0, maxEpoch=10, optimizer="sgd", weightDecay=0.0,
                         learningRateSchedule="constant", validationMetrics=["loss"], checkpointPath="",
                         numPartitions=0, showProgress=True, trainingMode="gang")

    def setMaxEpoch(self, value: int) -> "HasTraining":
        return self._set(maxEpoch=value)

    def getMaxEpoch(self) -> int:
        return self.getOrDefault(self.maxEpoch)

    def setLearningRate(self, value: float) -> "HasTraining":
        return self._set(learningRate=value)

    def setOptimizer(self, value: str) -> "HasTraining":
        return self._set(optimizer=value)

    def getOptimizer(self) -> str:
        return self.getOrDefault(self.optimizer)

    def getWeightDecay(self) -> float:
        return self.getOrDefault(self.weightDecay)

    def getLearningRateSchedule(self) -> str:
        return self.getOrDefault(self.learningRateSchedule)

    def getValidationMetrics(self) -> list[str]:
        return self.getOrDefault(self.validationMetrics)

    def setCheckpointPath(self, value: str) -> "HasTraining":
        return self._set(checkpointPath=value)

    def getCheckpointPath(self) -> str:
        return self.getOrDefault(self.checkpointPath)

    def getNumPartitions(self) -> int:
        return self.getOrDefault(self.numPartitions)

    def getShowProgress(self) -> bool:
        return self.getOrDefault(self.showProgress)

    def setTrainingMode(self, value: str) -> "HasTraining":
        return self._set(trainingMode=value)

    def getTrainingMode(self) -> str:
        return self.getOrDefault(self.trainingMode)
