"""Gang mode of the distributed trainer, driver side: launch the barrier stage, follow it, restart it.

The driver ships the model once (model-file bytes in a broadcast, as in the
per-iteration mode), the optimizer's hyper-parameters and state, and the
trainer's settings; then one Spark job runs a barrier stage of ``N`` tasks
(:mod:`bigdl_runtime.spark.gang`) that trains the whole fit. While it runs the
driver only listens: a :class:`Coordinator` thread receives rank 0's summary
rows, validation rows and checkpoint notices as JSON lines over TCP and turns
them into progress lines and the summary file. At the end the tasks return
their weight slices and optimizer shards, which the driver loads into
the caller's model and optimizer, so ``fit`` leaves them as the per-iteration
mode and ``LocalTrainer`` do.

Failures: a lost task fails the barrier stage (its peers see the broken
connections, :class:`~bigdl_runtime.spark.mesh.MeshError`). Spark may retry
the stage by itself; if the job still fails, the driver starts the gang again,
up to ``max_restarts`` times. Either way the new tasks resume from the newest
checkpoint this fit wrote (none: from the start), so the result is that of an
uninterrupted run.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
import threading
import uuid
from typing import Any, Sequence

import numpy as np
from pyspark import RDD
from pyspark.sql import SparkSession

from ..nn.module import Module
from ..nn import random
from ..optim.sharding import ShardLayout
from ..serialization import state_from_bytes, state_to_bytes
from ..train.progress import Progress
from ..train.summary import SummaryWriter
from ..train.trainer import History
from ..train.triggers import TrainState, Trigger
from . import gang
from .blocks import Blocks, identity_partition
from .driver_server import DriverServer, driver_address
from .errors import worker_errors
from .worker import RunSpec, set_float_buffers

#: seconds a task waits for a silent peer or the coordinator before failing
DEFAULT_TIMEOUT = 600.0


@dataclasses.dataclass
class GangSettings:
    """The ``fit`` arguments the gang needs besides the data."""

    epoch_size: int
    batch_size: int
    end: Trigger
    metrics: tuple[Any, ...]
    validation_trigger: Trigger
    checkpoint: str | None
    checkpoint_trigger: Trigger
    shuffle_seed: int
    shuffle: bool
    compress: str | None
    summary: str | os.PathLike | None
    max_restarts: int = 2
    timeout: float = DEFAULT_TIMEOUT
    transport: str = "auto"


def fit_gang(spark: SparkSession, model: Module, loss: Any, optimizer: Any, run: RunSpec, blocks: Blocks,
             validation: Blocks | None, history: History, settings: GangSettings, progress: Progress) -> History:
    """Train ``model`` in one barrier stage; returns the history and leaves model and optimizer trained."""
    sc = spark.sparkContext
    n_tasks = blocks.num_partitions
    _check_slots(sc, n_tasks)
    layout = ShardLayout.of(model, optimizer)
    start = sc.broadcast((state_to_bytes(optimizer.state_dict()),
                          json.dumps({"train": history.train, "validation": history.validation,
                                      "state": history.state.to_dict()})))
    token = uuid.uuid4().hex
    data = _gang_input(blocks, validation, n_tasks)
    host, bind = driver_address(spark)
    coordinator = Coordinator(host, token, progress, settings.summary, history, bind=bind)
    try:
        spec = gang.GangSpec(
            run=run, start=start, layout=layout, run_id=uuid.uuid4().hex, token=token,
            coordinator=coordinator.address, epoch_size=settings.epoch_size, batch_size=settings.batch_size,
            shuffle_seed=settings.shuffle_seed, shuffle=settings.shuffle,
            rng_state=random.get_state(), end=settings.end, validation_trigger=settings.validation_trigger,
            checkpoint_trigger=settings.checkpoint_trigger, metrics=tuple(settings.metrics),
            validate=validation is not None, checkpoint=settings.checkpoint, compress=settings.compress,
            attempt=0, timeout=settings.timeout, transport=settings.transport)
        for attempt in range(settings.max_restarts + 1):
            spec = dataclasses.replace(spec, attempt=attempt)
            try:
                with worker_errors():
                    results = data.barrier().mapPartitions(functools.partial(gang.train_task, spec=spec)).collect()
                break
            except Exception as err:  # a lost task, executor or worker: start the gang again
                if attempt == settings.max_restarts or isinstance(err, (ValueError, TypeError)):
                    raise
                coordinator.restarting()
                origin = f"from the newest checkpoint ({coordinator.checkpoints[-1]})" if coordinator.checkpoints \
                    else "from the start (no checkpoint written yet)"
                progress.message(f"gang mode: the barrier stage failed ({_first_line(err)}); restarting it "
                                 f"{origin} (restart {attempt + 1} of {settings.max_restarts})")
    finally:
        coordinator.close()
        start.destroy()
    return _collect(model, optimizer, layout, results)


def _collect(model: Module, optimizer: Any, layout: ShardLayout, results: Sequence[tuple[int, bytes]]) -> History:
    """Load the gang's final weight slices, buffers and optimizer shards into the caller's objects."""
    parts = [state_from_bytes(payload, source=f"the gang's result from rank {rank}")
             for rank, payload in sorted(results, key=lambda r: r[0])]
    flat_w, _ = model.flatten_parameters()
    for part in parts:
        weights = np.asarray(part["weights"], np.float32)
        flat_w[int(part["lo"]):int(part["lo"]) + weights.size] = weights
    set_float_buffers(model, np.asarray(parts[0]["buffers"], np.float32))
    optimizer.load_state_dict(layout.merge([part["optimizer"] for part in parts]))
    rows = json.loads(parts[0]["history"])
    return History(train=rows["train"], validation=rows["validation"], state=TrainState.from_dict(rows["state"]))


def _gang_input(blocks: Blocks, validation: Blocks | None, n_tasks: int) -> RDD:
    """``(tag, block)`` records, partition ``r`` holding training partition ``r`` and a share of validation.

    Always through one shuffle (once per fit; a restarted gang reuses its output): Spark runs a
    barrier stage only over a chain of RDDs that all have its number of partitions, and the
    blocks' own lineage may hold anything (a coalesce, a union, a DataFrame's plan).
    """
    keyed = blocks.rdd.mapPartitionsWithIndex(functools.partial(_keyed, tag=gang.TRAIN, n=n_tasks))
    if validation is not None:
        keyed = keyed.union(validation.rdd.mapPartitionsWithIndex(
            functools.partial(_keyed, tag=gang.VALIDATION, n=n_tasks)))
    return keyed.partitionBy(n_tasks, identity_partition).values()


def _keyed(partition: int, blocks: Any, tag: str, n: int) -> Any:
    return ((partition % n, (tag, block)) for block in blocks)


def _check_slots(sc: Any, n_tasks: int) -> None:
    """A barrier stage needs all its tasks running at once: on a local master, fail early and clearly.

    (On a cluster Spark itself refuses a barrier stage with more tasks than free slots.)
    """
    if not sc.master.startswith("local"):
        return
    slots = sc.defaultParallelism // max(1, int(sc.getConf().get("spark.task.cpus", "1")))
    if n_tasks > slots:
        raise ValueError(f"gang mode runs its {n_tasks} tasks at once, but the master {sc.master!r} has {slots} "
                         f"task slots: use num_partitions <= {slots}, or mode='iteration'")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


class Coordinator:
    """The driver's end of rank 0's report line: progress, summaries and checkpoint notices.

    Listens on the driver's bind address; every attempt's rank 0 connects to its host and says
    ``hello`` with the run's token and its attempt number. Events of an older
    attempt than the newest one seen are dropped.
    """

    def __init__(self, host: str, token: str, progress: Progress, summary: str | os.PathLike | None,
                 history: History, bind: str | None = None) -> None:
        self._token = token
        self._progress = progress
        self._summary_path = summary
        self._summary = SummaryWriter(summary, start=history) if summary is not None else None
        self._lock = threading.Lock()
        self._attempt = -1
        #: the checkpoints the gang reported, oldest first
        self.checkpoints: list[str] = []
        self._server = DriverServer(host, self._serve, name="bigdl-gang-coordinator", bind=bind)
        self.address = self._server.address

    def _serve(self, conn: socket.socket) -> None:
        attempt = None
        with conn, conn.makefile("r", encoding="utf-8") as lines:
            for line in lines:
                event = json.loads(line)
                if attempt is None:
                    if event.get("event") != "hello" or event.get("token") != self._token:
                        return
                    attempt = int(event["attempt"])
                    continue
                with self._lock:
                    if attempt < self._attempt:
                        continue
                    self._attempt = attempt
                    self._handle(event)

    def _handle(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "start" and self._summary is not None:
            self._summary.close()  # a (re)started gang rewrites the rows it starts from
            self._summary = SummaryWriter(self._summary_path, start=History(train=event["train"],
                                                                            validation=event["validation"]))
        elif kind == "train":
            row = event["row"]
            if self._summary is not None:
                self._summary.add_train(row)
            if hasattr(self._progress, "timings"):
                self._progress.timings = {k: row.get(k, 0.0) for k in ("compute_time", "sync_time", "optimizer_time")}
            self._progress.update(TrainState.from_dict(event["state"]), event["samples"], event["seconds"])
        elif kind == "validation":
            if self._summary is not None:
                self._summary.add_validation(event["row"])
        elif kind == "message":
            self._progress.message(event["text"])
        elif kind == "checkpoint":
            self.checkpoints.append(event["path"])

    def restarting(self) -> None:
        """The next events come from a new attempt."""
        with self._lock:
            self._attempt += 1

    def close(self) -> None:
        """Stop listening once every report line has been read to its end (the tasks have closed them)."""
        self._server.close()
        with self._lock:
            if self._summary is not None:
                self._summary.close()
        self._progress.close()
