"""Gang mode of the distributed trainer, task side: one barrier stage runs the whole ``fit``.

Each of the ``N`` tasks of the barrier stage (rank ``r`` = its partition):

1. materialises its partition of the training blocks (samples ``i`` with
   ``i % N == r``) and of the validation blocks in its Python worker, once;
2. connects to the other tasks (:class:`~bigdl_runtime.spark.mesh.Mesh`:
   addresses exchanged with ``BarrierTaskContext.allGather``);
3. builds its replica of the model from the run's broadcast (model-file bytes,
   never pickle) and the optimizer for its slice of the flat weight vector
   (:mod:`bigdl_runtime.optim.sharding`, optimizer state sharded the same way);
4. runs the iterations with the :class:`~bigdl_runtime.train.trainer.TrainingLoop`
   (so triggers, validation, epochs and checkpoints behave as in ``LocalTrainer``):
   each iteration it computes its share of the global batch's mean gradient
   (the batch is ``EpochOrder``'s, as in ``LocalTrainer``; its share is the
   batch's samples it holds, as in the per-iteration mode, with the same task
   RNG seed), then BigDL's ``AllReduceParameter`` step: reduce-scatter of the
   gradient (task ``j`` sums slice ``j`` in rank order), the optimizer on weight
   slice ``j``, all-gather of the weights (through shared memory when every task
   is on one host, else over the mesh: :mod:`~bigdl_runtime.spark.parameter_sync`);
   the loss, sample count and batch-norm statistics are all-reduced (float64) alongside;
5. validates collectively (each task its validation samples; metric states
   merged on rank 0 in rank order, results broadcast so every task's triggers
   and schedules see the same score);
6. checkpoints collectively, through :func:`~bigdl_runtime.spark.task_fs.task_filesystem`
   (so on a multi-host cluster the path must be shared: HDFS, S3, NFS): every slice
   owner writes its optimizer shard into the checkpoint's temporary directory, then
   rank 0 writes the model file and the state and commits the directory; either
   trainer resumes from it (:func:`~bigdl_runtime.train.checkpoint.read_checkpoint`
   puts the shards back together).

Rank 0 reports every summary row, validation row and checkpoint to the
driver's :class:`~bigdl_runtime.spark.gang_driver.Coordinator` as JSON lines
over TCP; the driver carries no weights or gradients while the stage runs.
At the end every task returns its weight slice and optimizer shard (so no
record holds more than ``1/N`` of the model), rank 0 also the buffers and the
history; the driver puts them together, once per fit.

A restarted stage (a lost task fails the whole barrier stage; Spark or the
driver starts it again) resumes from the newest checkpoint this fit wrote, so
an interrupted fit ends with the weights of an uninterrupted one.
"""
from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import numpy as np
from pyspark import Broadcast, BarrierTaskContext

from ..optim.sharding import OptimizerShard, ShardLayout
from ..serialization import state_from_bytes, state_to_bytes
from ..train.checkpoint import read_checkpoint, save_checkpoint, shard_file, stage_checkpoint
from ..train.metrics import get_metric
from ..train.progress import Progress
from ..train.trainer import EpochOrder, History, TrainingLoop
from ..train.triggers import TrainState, Trigger
from .blocks import Block
from .errors import tagged
from .mesh import Mesh
from .parameter_sync import parameter_sync
from .task_fs import task_filesystem
from .worker import (Replica, RunSpec, float_buffers, inject_faults, set_float_buffers, task_seed, update_metrics,
                     weighted_gradient)

TRAIN, VALIDATION = "train", "validation"


@dataclass(frozen=True)
class GangSpec:
    """Everything a gang task needs; pickled with the task (no weights: those come in ``run``'s broadcast)."""

    run: RunSpec                  # model + loss as model-file bytes
    start: Broadcast              # (optimizer state_to_bytes, history JSON) the fit starts from
    layout: ShardLayout
    run_id: str
    token: str
    coordinator: tuple[str, int]
    epoch_size: int
    batch_size: int
    shuffle_seed: int             # the epochs' order, and (as in the per-iteration mode) the tasks' RNG seeds
    shuffle: bool
    rng_state: dict[str, Any]     # the driver's RNG state, stored in checkpoints as the other trainers do
    end: Trigger
    validation_trigger: Trigger
    checkpoint_trigger: Trigger
    metrics: tuple[Any, ...]
    validate: bool                # the fit has validation data
    checkpoint: str | None
    compress: str | None
    attempt: int
    timeout: float
    transport: str                # the parameter exchange: see parameter_sync.TRANSPORTS


@tagged
def train_task(records: Iterable[tuple[str, Block]], spec: GangSpec) -> Iterator[tuple[int, bytes]]:
    """The barrier task: ``(rank, its weight slice and optimizer shard; on rank 0 also buffers and history)``."""
    context = BarrierTaskContext.get()
    rank, size = context.partitionId(), len(context.getTaskInfos())
    train, validation = _materialise(records)
    host = context.getTaskInfos()[rank].address.rsplit(":", 1)[0]
    with Mesh.connect(rank, size, context.allGather, host, spec.token, timeout=spec.timeout) as mesh, \
            _Reporter(spec, rank) as reporter:
        gang = _Gang(spec, mesh, train, validation, reporter, context.attemptNumber())
        reporter.message(f"gang of {size} tasks: gradients and weights exchanged over {gang.sync.transport}")
        history = gang.run()
        result = {"lo": gang.lo, "weights": gang.flat_w[gang.lo:gang.hi], "optimizer": gang.shard.state_dict()}
        if rank == 0:
            result.update(buffers=float_buffers(gang.replica.model), history=json.dumps({
                "train": history.train, "validation": history.validation, "state": history.state.to_dict()}))
        mesh.barrier()
    yield rank, state_to_bytes(result)


def _materialise(records: Iterable[tuple[str, Block]]) -> tuple[Block | None, list[Block]]:
    """This task's training samples as one block (ids sorted), and its validation blocks."""
    train: list[Block] = []
    validation: list[Block] = []
    for tag, block in records:
        (train if tag == TRAIN else validation).append(block)
    train = [b for b in train if b[0].size]
    if not train:
        return None, validation
    train.sort(key=lambda b: int(b[0][0]))
    ids = np.concatenate([b[0] for b in train])
    xs = tuple(np.concatenate([b[1][j] for b in train]) for j in range(len(train[0][1])))
    y = np.concatenate([b[2] for b in train]) if train[0][2] is not None else None
    order = np.argsort(ids, kind="stable")
    if np.any(order != np.arange(ids.size)):
        ids, xs, y = ids[order], tuple(x[order] for x in xs), (y[order] if y is not None else None)
    return (ids, xs, y), validation


class _Gang:
    """One task's replica, optimizer shard and training loop."""

    def __init__(self, spec: GangSpec, mesh: Mesh, train: Block | None, validation: list[Block],
                 reporter: "_Reporter", task_attempt: int) -> None:
        self.spec, self.mesh, self.train, self.validation, self.reporter = spec, mesh, train, validation, reporter
        self.task_attempt = task_attempt
        self.replica = Replica(*spec.run.model.value)
        self.sync = parameter_sync(mesh, self.replica.model, (self.replica.flat_w, self.replica.flat_g),
                                   spec.compress, spec.transport)
        self.flat_w = self.sync.weights
        self.lo, self.hi = self.sync.lo, self.sync.hi
        self.grad_slice = np.zeros(self.hi - self.lo, np.float32)
        self.shard: OptimizerShard = spec.layout.shard(self.lo, self.hi, self.flat_w, self.grad_slice)
        optimizer_bytes, history_json = spec.start.value
        self.shard.load_state_dict(state_from_bytes(optimizer_bytes, source="the fit's optimizer state"))
        start = json.loads(history_json)
        self.history = History(train=start["train"], validation=start["validation"],
                               state=TrainState.from_dict(start["state"]))
        # a fresh fit has a new run id, so only a restarted gang finds checkpoints of its run
        self.resumed = spec.checkpoint is not None and self._resume()
        # With shared memory every rank has written its start weights into the one weight vector
        # (flatten_parameters, then a resumed checkpoint's): none may train before all have.
        mesh.barrier()
        self.order = EpochOrder(spec.epoch_size, spec.shuffle_seed, spec.shuffle)
        self.buffers = float_buffers(self.replica.model).size

    def _resume(self) -> bool:
        """Continue from the newest checkpoint of this fit, if it wrote one; True if it did."""
        try:
            weights, optimizer_state, trainer = read_checkpoint(self.spec.checkpoint,
                                                                task_filesystem(self.spec.checkpoint))
        except FileNotFoundError:
            return False
        if trainer.get("run_id") != self.spec.run_id:
            return False
        self.replica.model.load_state_dict(weights)
        self.shard.load_state_dict(optimizer_state)
        self.history = History(train=trainer["train"], validation=trainer["validation"],
                               state=TrainState.from_dict(trainer["state"]))
        return True

    # ------------------------------------------------------------------ the loop
    def run(self) -> History:
        spec = self.spec
        self.reporter.start(self.history)
        per_epoch = -(-spec.epoch_size // spec.batch_size)
        loop = TrainingLoop(
            self.shard, spec.end, spec.epoch_size, self.history,
            validate=self._validate if spec.validate else None,
            validation_trigger=spec.validation_trigger,
            checkpoint=self._checkpoint if spec.checkpoint is not None else None,
            checkpoint_trigger=spec.checkpoint_trigger,
            summary=self.reporter if self.mesh.rank == 0 else None,
            progress=self.reporter if self.mesh.rank == 0 else Progress(None, per_epoch, enabled=False))
        return loop.run(self._step)

    def _step(self, state: TrainState) -> tuple[float, int, dict[str, float]]:
        spec, mesh, model = self.spec, self.mesh, self.replica.model
        iteration = state.iteration + 1
        inject_faults(iteration, mesh.rank,
                      first_attempt=spec.attempt == 0 and self.task_attempt == 0 and not self.resumed)
        batch = self.order(state.epoch)[state.epoch_records:state.epoch_records + spec.batch_size]
        local = _locate(self.train[0], batch) if self.train is not None else np.zeros(0, np.int64)
        extras = np.zeros(2 + self.buffers, np.float64)
        tic = time.perf_counter()
        if local.size:
            _, xs, y = self.train
            extras[0], extras[2:] = weighted_gradient(model, self.replica.loss, [x[local] for x in xs], y[local],
                                                      local.size / batch.size,
                                                      task_seed(spec.shuffle_seed, iteration, mesh.rank))
        else:
            self.sync.gradient[...] = 0
        extras[1] = local.size
        computed = time.perf_counter()
        fill = self.sync.start_reduce_scatter(self.grad_slice)
        totals = mesh.all_reduce(extras)
        reduced = time.perf_counter()
        self.shard.step(sum_across=self._sum_across, fill=fill)   # shared memory sums each piece here
        stepped = time.perf_counter()
        self.sync.all_gather()
        set_float_buffers(model, totals[2:])
        done = time.perf_counter()
        if int(totals[1]) != batch.size:
            raise RuntimeError(f"iteration {iteration}: the tasks hold {int(totals[1])} of the batch's {batch.size} "
                               "samples; every sample must be in exactly one task's partition")
        return float(totals[0]), int(batch.size), {
            "compute_time": computed - tic, "sync_time": (reduced - computed) + (done - stepped),
            "optimizer_time": stepped - reduced}

    def _sum_across(self, value: float) -> float:
        return float(self.mesh.all_reduce(np.array([value], np.float64))[0])

    # ------------------------------------------------------------ validation
    def _validate(self) -> dict[str, float]:
        model = self.replica.model
        metrics = [get_metric(m, loss=self.replica.loss) for m in self.spec.metrics]
        model.evaluate()
        try:
            update_metrics(model, self.validation, metrics, self.spec.batch_size)
        finally:
            model.train()
        mine = state_to_bytes({f"{i}.{j}": np.asarray(v) for i, m in enumerate(metrics)
                               for j, v in enumerate(m.state())})
        parts = self.mesh.gather_bytes(mine, root=0)
        text = None
        if parts is not None:
            merged = [get_metric(m, loss=self.replica.loss) for m in self.spec.metrics]
            for part in parts:
                values = state_from_bytes(part, source="a task's metric states")
                for i, m in enumerate(merged):
                    m.merge(tuple(values[f"{i}.{j}"] for j in range(len(m.state()))))
            text = json.dumps({m.name: float(m.result()) for m in merged}).encode()
        return json.loads(self.mesh.broadcast_bytes(text, root=0))

    # ------------------------------------------------------------ checkpoints
    def _checkpoint(self, state: TrainState) -> None:
        """Every slice owner writes its optimizer shard; rank 0 then writes the model and the state and commits."""
        mesh, spec = self.mesh, self.spec
        fs = task_filesystem(spec.checkpoint)
        staged = stage_checkpoint(spec.checkpoint, state.iteration, fs) if mesh.rank == 0 else None
        tmp, final = json.loads(mesh.broadcast_bytes(
            json.dumps([str(staged[0]), staged[1]]).encode() if staged is not None else None, root=0))
        fs.write_bytes_atomic(fs.join(tmp, shard_file(mesh.rank, mesh.size)), state_to_bytes(self.shard.state_dict()))
        mesh.barrier()  # every shard is in the temporary directory
        if mesh.rank == 0:
            shards = {"shards": mesh.size, **spec.layout.describe()}
            path = save_checkpoint(spec.checkpoint, self.replica.model, _SavedOptimizer(shards), {
                "state": state.to_dict(), "shuffle_seed": spec.shuffle_seed, "rng": spec.rng_state,
                "epoch_size": spec.epoch_size, "batch_size": spec.batch_size, "run_id": spec.run_id,
                "train": self.history.train, "validation": self.history.validation}, fs=fs, staged=(tmp, final))
            self.reporter.send({"event": "checkpoint", "path": str(path), "iteration": state.iteration})
        mesh.barrier()


class _SavedOptimizer:
    """What ``save_checkpoint`` needs of an optimizer: its ``state_dict()``."""

    def __init__(self, state: dict[str, Any]) -> None:
        self._state = state

    def state_dict(self) -> dict[str, Any]:
        return self._state


def _locate(ids: np.ndarray, batch: np.ndarray) -> np.ndarray:
    """Positions in sorted ``ids`` of the elements of ``batch`` present there, in batch order."""
    if ids.size == 0:
        return np.zeros(0, np.int64)
    pos = np.minimum(np.searchsorted(ids, batch), ids.size - 1)
    return pos[ids[pos] == batch]


class _Reporter(Progress):
    """Rank 0's line to the driver: summary rows, validation rows, messages and checkpoints as JSON lines.

    Plays both parts the training loop gives it, the summary writer and the
    progress reporter; other ranks only open it to keep the code uniform.
    """

    def __init__(self, spec: GangSpec, rank: int) -> None:
        super().__init__(None, 1, enabled=False)
        self.rank = rank
        self._row: dict[str, Any] | None = None
        self._sock: socket.socket | None = None
        if rank == 0:
            self._sock = socket.create_connection(spec.coordinator, timeout=spec.timeout)
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.send({"event": "hello", "token": spec.token, "attempt": spec.attempt})

    def __enter__(self) -> "_Reporter":
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._sock is not None:
            self._sock.close()

    def send(self, event: dict[str, Any]) -> None:
        if self._sock is not None:
            self._sock.sendall(json.dumps(event).encode() + b"\n")

    def start(self, history: History) -> None:
        self.send({"event": "start", "state": history.state.to_dict(), "train": history.train,
                   "validation": history.validation})

    # the summary writer's part
    def add_train(self, row: dict[str, Any]) -> None:
        self._row = row

    def add_validation(self, row: dict[str, Any]) -> None:
        self.send({"event": "validation", "row": row})

    # the progress reporter's part
    def update(self, state: TrainState, samples: int, seconds: float) -> None:
        self.send({"event": "train", "row": self._row, "state": state.to_dict(), "samples": samples,
                   "seconds": seconds})

    def message(self, text: str) -> None:
        self.send({"event": "message", "text": text})

    def close(self) -> None:
        """The loop ends: nothing to flush (the connection closes with the task)."""
