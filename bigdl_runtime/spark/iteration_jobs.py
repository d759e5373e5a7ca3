"""The per-iteration mode's Spark jobs: one retryable job per iteration, its gradients summed on the driver or
through the shuffle.

:class:`DriverSumJobs` (``sync="driver"``): the tasks fetch the weights from the driver's
:class:`~bigdl_runtime.spark.iteration_hub.IterationHub` and push their gradients to it; the training RDD
(the epoch layout's shuffled data under :func:`~bigdl_runtime.spark.worker.gradient`) is built once per
epoch, and iteration ``k``'s job runs its ``N`` partitions ``k*N .. k*N+N-1``. Per iteration the driver
only publishes the weights, submits the job and adds the ``N`` gradients in partition order.

:class:`ShuffleSumJobs` (``sync="shuffle"``, BigDL's block-manager algorithm): the weights go out as a
Spark broadcast (torrent: executors fetch from each other, the driver's link carries them about once) and
the gradients are summed by a reduce-scatter through the shuffle
(:func:`~bigdl_runtime.spark.allreduce.reduce_scatter`); a new RDD chain per iteration.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
from pyspark.core.rdd import _load_from_socket
from pyspark.sql import SparkSession

from . import worker
from .allreduce import Reduced, reduce_scatter
from .driver_server import driver_address
from .epoch_layout import EpochLayout
from .errors import worker_errors
from .iteration_hub import IterationHub


class DriverSumJobs:
    """``sync="driver"``: weights from and gradients to the driver's hub (module doc)."""

    def __init__(self, spark: SparkSession, run: worker.RunSpec, layout: EpochLayout, size: int, seed: int,
                 compress: str | None) -> None:
        self.sc, self.run_spec, self.layout, self.seed = spark.sparkContext, run, layout, seed
        self.num_partitions = layout.num_partitions
        host, bind = driver_address(spark)
        self.hub = IterationHub(host, size, self.num_partitions, compress, bind=bind)
        self._epoch: int | None = None
        self._jrdd: Any = None
        self._deserializer: Any = None
        # looked up once: py4j resolves each attribute with a round trip to the JVM
        self._run_job, self._jsc = self.sc._jvm.PythonRDD.runJob, self.sc._jsc.sc()

    def run(self, epoch: int, index: int, iteration: int, weights: np.ndarray, buffers: np.ndarray,
            batch: np.ndarray) -> Reduced:
        """Iteration ``iteration`` (batch ``index`` of ``epoch``): its summed contributions."""
        if epoch != self._epoch:
            spec = worker.StepSpec(self.run_spec, self.hub.client, iteration - index, self.seed, self.num_partitions)
            rdd = self.layout.epoch_rdd(epoch).mapPartitionsWithIndex(functools.partial(worker.gradient, spec=spec))
            self._jrdd, self._deserializer, self._epoch = rdd._jrdd, rdd._jrdd_deserializer, epoch
        self.hub.publish(iteration, weights, buffers, batch)
        start = index * self.num_partitions
        with worker_errors():
            found = self._run_job(self._jsc, self._jrdd, list(range(start, start + self.num_partitions)))
            with _load_from_socket(found, self._deserializer) as stream:
                results = list(stream)
        return self.hub.reduced(results)

    def close(self) -> None:
        self.hub.close()


class ShuffleSumJobs:
    """``sync="shuffle"``: a broadcast of the weights and a reduce-scatter through the shuffle (module doc)."""

    def __init__(self, spark: SparkSession, run: worker.RunSpec, layout: EpochLayout, seed: int,
                 compress: str | None) -> None:
        self.sc, self.run_spec, self.layout, self.seed, self.compress = (
            spark.sparkContext, run, layout, seed, compress)

    def run(self, epoch: int, index: int, iteration: int, weights: np.ndarray, buffers: np.ndarray,
            batch: np.ndarray) -> Reduced:
        """Iteration ``iteration`` (batch ``index`` of ``epoch``): its summed contributions."""
        shipped = self.sc.broadcast((weights, buffers, batch))
        try:
            spec = worker.StepSpec(self.run_spec, worker.BroadcastWeights(shipped), iteration, self.seed,
                                   self.layout.num_partitions)
            contributions = self.layout.shares(epoch, index).mapPartitionsWithIndex(
                functools.partial(worker.gradient, spec=spec))
            with worker_errors():
                return reduce_scatter(contributions, self.layout.num_partitions, self.compress)
        finally:
            shipped.destroy()

    def close(self) -> None:
        pass
