"""DistributedTrainer: BigDL's synchronous data-parallel training on Spark, in two modes.

``mode="gang"`` (the default): one barrier stage of ``N`` tasks trains the whole
fit; each task holds its share of the data in its Python worker and the tasks
synchronise over direct TCP connections with BigDL's AllReduceParameter
algorithm (reduce-scatter, each task updates its slice of the weights with its
shard of the optimizer state, all-gather): see :mod:`bigdl_runtime.spark.gang`
and :mod:`bigdl_runtime.spark.gang_driver`. The driver only follows progress;
a lost task restarts the gang from the newest checkpoint of the fit.

``mode="iteration"``: every iteration is a short, deterministic, retryable Spark
job, as in BigDL's ``DistriOptimizer``; a failed task is re-run with the same
weights and samples. One iteration:

1. the driver publishes the flat weight vector (``model.flatten_parameters()``),
   the float buffers and the global ids of the iteration's mini-batch;
2. one Spark job of ``N`` training tasks: task ``p`` reads the batch's samples
   with id ``p`` mod ``N`` (and nothing else) from the epoch layout
   (:class:`~bigdl_runtime.spark.epoch_layout.EpochLayout`: once per epoch, a shuffle of
   the cached training blocks puts each (iteration, partition) share of the
   epoch's batches in a shuffle partition of its own, and the iteration's job
   runs on just its ``N`` of them), runs forward and backward on its worker's
   cached model replica and contributes its share of the batch-mean gradient;
   the contributions are summed on the driver (``sync="driver"``: the tasks fetch
   the weights from the driver's hub and push their gradients to it as raw bytes)
   or by a reduce-scatter through the shuffle (``sync="shuffle"``: the weights go out
   as a Spark broadcast), see :mod:`bigdl_runtime.spark.iteration_jobs`;
   ``sync="auto"`` (the default) sums on the driver up to
   :data:`DRIVER_SUM_MAX_PARTITIONS` partitions and through the shuffle beyond;
3. the driver writes the sum into the model's flat gradient, the averaged
   buffers into its buffers, and applies the optimizer.

Per-iteration work and bytes follow the batch and the model, not the dataset: the
dataset is read once per epoch (by the layout's map stage, in the epoch's first
iteration job). The global batches are LocalTrainer's (:class:`~bigdl_runtime.train.trainer.EpochOrder`
with the same seed), so both trainers reach the same weights up to float32
summation order. Batch normalisation computes its batch statistics over each
partition's part of the batch (as in BigDL); the running statistics are
averaged over partitions (weighted by sample count) after every iteration.
For losses with ``reduction="mean"`` the gradient is the global batch mean
exactly when the loss is a plain per-sample mean (class weights or
``ignore_index`` make each partition's mean weighted differently).

Both modes use the same global batches and the same per-task shares and RNG seeds, so they give
bit-identical weights. Every iteration's summary row adds ``compute_time`` (forward/backward:
the slowest task's per iteration job; rank 0's in the gang) and ``sync_time`` (summing: reduce
tasks and the driver's concatenation, or the driver's sum; in the gang the mesh collectives, waiting for slower peers
included); per-iteration jobs add ``schedule_time`` (the rest of the job's wall time: task
launch, serialisation, the weights' and gradients' transfers, shuffle fetches), the gang ``optimizer_time`` (through
shared memory it includes summing the slice's gradients: each piece is summed just before its update).

Test hooks: the job-local properties ``spark.bigdl.test.failOnce`` / ``killOnce``
(:data:`bigdl_runtime.spark.worker.FAIL_ONCE`, ``KILL_ONCE``) make chosen training tasks
fail or die on their first attempt, to test retries and restarts (see :mod:`bigdl_runtime.spark.worker`).
"""
from __future__ import annotations

import functools
import math
import os
import time
import uuid
from typing import Any, Sequence

import numpy as np
from pyspark import RDD
from pyspark.sql import DataFrame, SparkSession

from ..nn import random
from ..nn.module import Module
from ..serialization import model_to_bytes
from ..train.checkpoint import save_checkpoint
from ..train.fit_setup import prepare_fit
from ..train.local_fs import uri_scheme
from ..train.metrics import get_metric
from ..train.progress import Progress
from ..train.summary import SummaryWriter
from ..train.trainer import EpochOrder, History, MetricSpec, TrainingLoop, end_trigger_for
from ..train.triggers import EveryEpoch, TrainState, Trigger
from . import worker
from .allreduce import COMPRESSIONS
from .blocks import Blocks
from .data import to_blocks
from .epoch_layout import EpochLayout
from .errors import worker_errors
from .iteration_jobs import DriverSumJobs, ShuffleSumJobs
from .gang_driver import DEFAULT_TIMEOUT, GangSettings, fit_gang
from .hadoop_fs import filesystem_for
from .parameter_sync import TRANSPORTS
from .session import init_spark

MODES = ("iteration", "gang")
SYNC_MODES = ("auto", "shuffle", "driver")
#: ``sync="auto"`` sums on the driver up to this many partitions: the driver sends the weights to and
#: receives a gradient from each task, one hop each, and the job has one stage; the reduce-scatter's
#: second stage costs more on few partitions (2 cores, local[2], driver vs shuffle per iteration, see
#: ``scripts/bench_distributed.py``). Beyond it the shuffle keeps the driver's traffic at about one
#: model's bytes each way however many partitions there are.
DRIVER_SUM_MAX_PARTITIONS = 4
#: DataFrame, RDD, numpy features, or a (features, labels) pair of numpy arrays
Data = Any


class DistributedTrainer:
    """Trains ``model`` on Spark with synchronous data-parallel SGD (BigDL's ``DistriOptimizer``).

    Args:
        model: the network; ``optimizer`` must have been built from its ``parameters()``.
        loss: a loss module (shipped to the workers as a model file).
        optimizer: e.g. ``SGD(model.parameters(), lr=0.1)``; it runs on the driver (per-iteration
            jobs) or sharded over the tasks (gang), and holds the final state after ``fit`` either way.
        spark: the session; default the active one, else ``init_spark()``.
        num_partitions: partitions (model replicas) the training data is split
            into; default ``sparkContext.defaultParallelism``.
        sync: per-iteration jobs: ``"shuffle"`` (weights broadcast, gradients summed by a reduce-scatter
            through the shuffle), ``"driver"`` (the tasks fetch the weights from the driver and send it their
            gradients, which it sums), or ``"auto"``: the driver up to
            :data:`DRIVER_SUM_MAX_PARTITIONS` partitions, the shuffle beyond.
        compress: None, or ``"fp16"`` to send gradients as float16 (summed in float32).
        mode: ``"gang"`` (one barrier stage for the whole fit; needs ``num_partitions``
            task slots free at once) or ``"iteration"`` (one Spark job per iteration).
            Measured on 2 cores, the gang is several times faster (README, "Training on Spark").
        max_restarts: gang mode: how often a failed gang is started again (from the
            newest checkpoint of the fit, else from the start) before ``fit`` raises.
        timeout: gang mode: seconds a task waits for a silent peer before failing the gang.
        transport: gang mode: how the tasks exchange gradients and weights: ``"auto"``
            (shared memory when every task is on one host, else TCP), ``"tcp"`` or
            ``"shared-memory"`` (fail if the tasks cannot share memory). Same weights either way.

    Examples:
        >>> trainer = DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), spark)
        >>> history = trainer.fit(df, batch_size=256, epochs=5, validation=val_df, seed=0)
        >>> trainer.evaluate(val_df, metrics=("top1", "loss"))
        {'top1': 0.91, 'loss': 0.25}
        >>> trainer.predict(test_df)          # numpy array, rows in the DataFrame's order
    """

    def __init__(self, model: Module, loss: Any, optimizer: Any, spark: SparkSession | None = None,
                 num_partitions: int | None = None, sync: str = "auto", compress: str | None = None,
                 mode: str = "gang", max_restarts: int = 2, timeout: float = DEFAULT_TIMEOUT,
                 transport: str = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"DistributedTrainer: mode must be one of {MODES}, got {mode!r}")
        if sync not in SYNC_MODES:
            raise ValueError(f"DistributedTrainer: sync must be one of {SYNC_MODES}, got {sync!r}")
        if transport not in TRANSPORTS:
            raise ValueError(f"DistributedTrainer: transport must be one of {TRANSPORTS}, got {transport!r}")
        if compress not in COMPRESSIONS:
            raise ValueError(f"DistributedTrainer: compress must be one of {COMPRESSIONS}, got {compress!r}")
        own = {id(p) for p in model.parameters()}
        if any(id(p) not in own for p in getattr(optimizer, "params", ())):
            raise ValueError("DistributedTrainer: the optimizer must update the model's parameters "
                             "(build it from model.parameters())")
        self.model = model
        self.loss = loss
        self.optimizer = optimizer
        self.spark = spark or SparkSession.getActiveSession() or init_spark()
        self.num_partitions = num_partitions or self.spark.sparkContext.defaultParallelism
        if self.num_partitions < 1:
            raise ValueError(f"DistributedTrainer: num_partitions must be >= 1, got {num_partitions}")
        self.sync = sync
        self.compress = compress
        self.mode = mode
        self.max_restarts = max_restarts
        self.timeout = timeout
        self.transport = transport

    # ------------------------------------------------------------------ fit
    def fit(self, data: Data, y: np.ndarray | None = None, batch_size: int = 32, epochs: int | None = None,
            iterations: int | None = None, end_trigger: Trigger | None = None, validation: Data | None = None,
            metrics: MetricSpec = ("top1",), validation_trigger: Trigger | None = None,
            checkpoint: str | os.PathLike | None = None, checkpoint_trigger: Trigger | None = None,
            resume_from: str | os.PathLike | None = None, seed: int | None = None, shuffle: bool = True,
            summary: str | os.PathLike | None = None, progress: bool = True,
            features_col: str | Sequence[str] = "features", label_col: str = "label",
            feature_shape: Sequence[int] | None = None) -> History:
        """Train until the end (``epochs``, ``iterations`` or ``end_trigger``, whichever first).

        The contract of :meth:`LocalTrainer.fit <bigdl_runtime.train.LocalTrainer.fit>`, on Spark data.

        Args:
            data: a DataFrame (``features_col``: array or Vector column, or a list
                of columns for a multi-input model; ``label_col``: numeric or
                array), an RDD of ``(features, label)`` pairs, or numpy ``x``
                (then ``y`` holds the labels). Sample ``i`` is the ``i``-th row.
            validation: data in the same forms (numpy as an ``(x, y)`` pair),
                evaluated with ``metrics`` when ``validation_trigger`` fires
                (default: every epoch) by a map-only job.
            checkpoint: a local directory or any Hadoop URI (``hdfs://...``);
                written when ``checkpoint_trigger`` fires (default: every epoch).
            resume_from: a checkpoint (or checkpoint directory) to continue from,
                written by either trainer; the run then ends as an uninterrupted one would.
            feature_shape: the sample shape of ``binary`` features columns (raw
                float32 bytes per row, see :func:`~bigdl_runtime.spark.data.to_blocks`).
            seed: seeds the shuffling and each task's RNG (dropout), which is
                derived from (seed, iteration, partition).

        Returns:
            the :class:`~bigdl_runtime.train.History`; train rows carry
            ``compute_time``, ``sync_time`` and ``schedule_time``.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        end = end_trigger_for(epochs, iterations, end_trigger)
        columns = {"features_col": features_col, "label_col": label_col, "feature_shape": feature_shape}
        blocks = self._blocks(data, y, self.num_partitions, "fit data", **columns)
        val_blocks: Blocks | None = None
        run: _Run | None = None
        layout: EpochLayout | None = None
        jobs: DriverSumJobs | ShuffleSumJobs | None = None
        try:
            if validation is not None:
                val_blocks = self._blocks(*_validation_pair(validation), None, "validation data", **columns)
            n = blocks.size
            setup = prepare_fit(self.model, self.optimizer, n, batch_size, seed, resume_from,
                                fs=filesystem_for(resume_from, self.spark) if resume_from is not None else None)
            history, shuffle_seed = setup.history, setup.shuffle_seed
            checkpoint_fs = filesystem_for(checkpoint, self.spark) if checkpoint is not None else None
            flat_w, flat_g = self.model.flatten_parameters()
            run = _Run(self.spark, self.model, self.loss)
            order = EpochOrder(n, shuffle_seed, shuffle)
            per_epoch = math.ceil(n / batch_size)
            meter = _TimedProgress(end.max_iterations(per_epoch), per_epoch, log_every=max(1, per_epoch // 10),
                                   enabled=progress)
            if self.mode == "gang":
                settings = GangSettings(
                    epoch_size=n, batch_size=batch_size, end=end, metrics=tuple(metrics),
                    validation_trigger=validation_trigger or EveryEpoch(),
                    checkpoint=_absolute(checkpoint), checkpoint_trigger=checkpoint_trigger or EveryEpoch(),
                    shuffle_seed=shuffle_seed, shuffle=shuffle, compress=self.compress, summary=summary,
                    max_restarts=self.max_restarts, timeout=self.timeout, transport=self.transport)
                self.model.train()
                with random.using(setup.rng):  # the gang's checkpoints record the run's generator
                    return fit_gang(self.spark, self.model, self.loss, self.optimizer, run.spec, blocks, val_blocks,
                                    history, settings, meter)

            layout = EpochLayout(blocks, batch_size, order)
            jobs = self._jobs(run, layout, flat_w.size, shuffle_seed)

            def step(state: TrainState) -> tuple[float, int, dict[str, float]]:
                batch = order(state.epoch)[state.epoch_records:state.epoch_records + batch_size]
                tic = time.perf_counter()
                reduced = jobs.run(state.epoch, state.epoch_records // batch_size, state.iteration + 1, flat_w,
                                   worker.float_buffers(self.model), batch)
                wall = time.perf_counter() - tic
                flat_g[...] = reduced.grad
                worker.set_float_buffers(self.model, reduced.extras[1:])
                self.optimizer.step()
                meter.timings = {"compute_time": reduced.compute_seconds, "sync_time": reduced.sync_seconds,
                                 "schedule_time": max(0.0, wall - reduced.compute_seconds - reduced.sync_seconds)}
                return float(reduced.extras[0]), int(batch.size), meter.timings

            def validate() -> dict[str, float]:
                return self._evaluate_blocks(val_blocks, run, metrics, batch_size, flat_w)

            def save(state: TrainState) -> None:
                save_checkpoint(checkpoint, self.model, self.optimizer, setup.trainer_state(state), fs=checkpoint_fs)

            loop = TrainingLoop(
                self.optimizer, end, n, history,
                validate=validate if val_blocks is not None else None,
                validation_trigger=validation_trigger or EveryEpoch(),
                checkpoint=save if checkpoint is not None else None,
                checkpoint_trigger=checkpoint_trigger or EveryEpoch(),
                summary=SummaryWriter(summary, start=history) if summary is not None else None,
                progress=meter)
            self.model.train()
            with random.using(setup.rng):
                return loop.run(step)
        finally:
            if jobs is not None:
                jobs.close()
            for owned in (layout, blocks, val_blocks, run):
                if owned is not None:
                    owned.unpersist()

    def _jobs(self, run: "_Run", layout: EpochLayout, size: int, seed: int) -> DriverSumJobs | ShuffleSumJobs:
        """The per-iteration jobs of this fit's sum (:meth:`sync_mode`)."""
        if self.sync_mode(self.num_partitions) == "driver":
            return DriverSumJobs(self.spark, run.spec, layout, size, seed, self.compress)
        return ShuffleSumJobs(self.spark, run.spec, layout, seed, self.compress)

    def sync_mode(self, num_partitions: int) -> str:
        """The summation used for ``num_partitions`` partitions: ``"shuffle"`` or ``"driver"``."""
        if self.sync != "auto":
            return self.sync
        return "driver" if num_partitions <= DRIVER_SUM_MAX_PARTITIONS else "shuffle"

    # ------------------------------------------------------- evaluate / predict
    def evaluate(self, data: Data, y: np.ndarray | None = None, metrics: MetricSpec = ("top1",),
                 batch_size: int = 32, features_col: str | Sequence[str] = "features",
                 label_col: str = "label") -> dict[str, float]:
        """Metric values over ``data`` (forms as in :meth:`fit`), in evaluation mode, by a map-only job.

        Each partition computes its metrics' mergeable states; the driver merges them.
        """
        blocks = self._blocks(data, y, None, "evaluate data", features_col=features_col, label_col=label_col)
        run = _Run(self.spark, self.model, self.loss)
        try:
            return self._evaluate_blocks(blocks, run, metrics, batch_size, None)
        finally:
            blocks.unpersist()
            run.unpersist()

    def predict(self, data: Data, batch_size: int = 32,
                features_col: str | Sequence[str] = "features") -> np.ndarray:
        """Model outputs for ``data`` in evaluation mode, by a map-only job, rows in input order.

        Args:
            data: a DataFrame (``features_col``), an RDD of features, or numpy ``x``.
                The order is the one the data yields when read: a DataFrame whose
                order is not deterministic (e.g. after ``repartition``) should be
                cached or sorted first to match outputs to rows.
        """
        blocks = self._blocks(data, None, None, "predict data", features_col=features_col, label_col=None)
        run = _Run(self.spark, self.model, self.loss)
        try:
            spec = worker.EvalSpec(run.spec, None, batch_size)
            with worker_errors():
                parts = blocks.rdd.mapPartitions(functools.partial(worker.predictions, spec=spec)).collect()
        finally:
            blocks.unpersist()
            run.unpersist()
        first = parts[0][1]
        outputs = np.empty((blocks.size, *first.shape[1:]), dtype=first.dtype)
        for ids, values in parts:
            outputs[ids] = values
        return outputs

    def _evaluate_blocks(self, blocks: Blocks, run: "_Run", metrics: MetricSpec, batch_size: int,
                         flat_w: np.ndarray | None) -> dict[str, float]:
        found = [get_metric(m, loss=self.loss) for m in metrics]
        sc = self.spark.sparkContext
        weights = sc.broadcast((flat_w, worker.float_buffers(self.model), None)) if flat_w is not None else None
        try:
            spec = worker.EvalSpec(run.spec, weights, batch_size, list(metrics))
            with worker_errors():
                states = blocks.rdd.mapPartitions(functools.partial(worker.metric_states, spec=spec)).collect()
        finally:
            if weights is not None:
                weights.destroy()
        for partition in states:
            for m, state in zip(found, partition):
                m.merge(state)
        return {m.name: m.result() for m in found}

    def _blocks(self, data: Data, y: Any, num_partitions: int | None, what: str,
                features_col: str | Sequence[str], label_col: str | None,
                feature_shape: Sequence[int] | None = None) -> Blocks:
        return to_blocks(data, y, spark=self.spark, num_partitions=num_partitions, features_col=features_col,
                         label_col=label_col, labels=label_col is not None, what=what, feature_shape=feature_shape)


def _absolute(path: str | os.PathLike | None) -> str | None:
    """A checkpoint location the tasks can use: URIs as given, plain paths made absolute."""
    if path is None:
        return None
    text = os.fspath(path)
    return text if uri_scheme(text) is not None else os.path.abspath(text)


def _validation_pair(validation: Data) -> tuple[Any, Any]:
    """Validation data as ``(data, y)``: a numpy ``(x, y)`` pair, or Spark data and None."""
    if isinstance(validation, (DataFrame, RDD)):
        return validation, None
    if isinstance(validation, (tuple, list)) and len(validation) == 2:
        return validation[0], validation[1]
    raise ValueError("validation must be a DataFrame, an RDD of (features, label) pairs or an (x, y) pair "
                     f"of numpy arrays, got {type(validation).__name__}")


class _Run:
    """The model and loss, shipped once as model-file bytes in a broadcast, for one fit/evaluate/predict."""

    def __init__(self, spark: SparkSession, model: Module, loss: Any) -> None:
        self._broadcast = spark.sparkContext.broadcast((model_to_bytes(model), model_to_bytes(loss)))
        self.spec = worker.RunSpec(uuid.uuid4().hex, self._broadcast)

    def unpersist(self) -> None:
        self._broadcast.destroy()


class _TimedProgress(Progress):
    """Progress whose lines add the last iteration's compute / sync / scheduling split."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timings: dict[str, float] = {}

    _NAMES = {"compute_time": "compute", "sync_time": "sync", "schedule_time": "scheduling",
              "optimizer_time": "optimizer"}

    def _line(self, state: TrainState) -> str:
        return super()._line(state) + "".join(f"  {self._NAMES[k]} {v * 1e3:.0f} ms"
                                              for k, v in self.timings.items() if k in self._NAMES)
