"""One training run of an NN estimator: DataFrame rows -> samples -> DistributedTrainer.fit."""
from __future__ import annotations

import functools
from typing import Any

from pyspark import RDD
from pyspark.sql import DataFrame

from bigdl_runtime.nn.module import Module
from bigdl_runtime.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Cosine, Optimizer, RMSprop
from bigdl_runtime.spark.errors import tagged
from bigdl_runtime.spark.trainer import DistributedTrainer
from bigdl_runtime.train import History

from .columns import FeatureSpec, samples
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


def to_samples(df: DataFrame, feature: FeatureSpec, label_col: str, classification: bool, what: str) -> RDD:
    """``df``'s (features, label) columns as an RDD of ``(input array, target)`` pairs, row order kept."""
    missing = [c for c in (feature.column, label_col) if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: the DataFrame has no column(s) {missing}; its columns are {df.columns}")
    convert = functools.partial(samples, feature=feature, label=label_col, classification=classification)
    return df.select(feature.column, label_col).rdd.mapPartitions(tagged(convert))


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
    data = to_samples(df, feature, label, classification, "fit data")
    val = to_samples(validation, feature, label, classification, "validation data") if validation is not None \
        else None
    return trainer.fit(data, batch_size=stage.getBatchSize(), epochs=epochs, validation=val,
                       metrics=tuple(stage.getValidationMetrics()), checkpoint=stage.getCheckpointPath() or None,
                       seed=stage.getSeed(), progress=stage.getShowProgress())
