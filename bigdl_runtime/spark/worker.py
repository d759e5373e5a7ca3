"""Task side of the distributed trainer: one model replica per Python worker, and the task functions.

A run (one ``fit``, ``evaluate`` or ``predict``) ships its model and loss ONCE,
as model-file bytes in a broadcast (``model_to_bytes``: the protobuf format,
never pickle). The first task of the run on a Python worker rebuilds them,
flattens the parameters and keeps the :class:`Replica` in a module-level cache
keyed by the run id; Spark reuses Python workers across tasks
(``spark.python.worker.reuse``), so later tasks only copy the iteration's
broadcast weights into the cached flat vector. A fresh worker (e.g. after a
task failure) rebuilds the replica from the broadcast.

A training task (:func:`gradient`) reads its share of the iteration's global
batch from the epoch layout (:class:`~bigdl_runtime.spark.epoch_layout.EpochLayout`):
exactly the batch's samples whose id is its partition mod N, in batch order,
and nothing else of the dataset. It checks their ids against the broadcast batch.

Determinism: a training task seeds the runtime RNG (dropout) from
``(seed, iteration, partition)`` and loads weights and buffers from the
iteration's broadcast, and its share comes from a deterministic shuffle, so a
retried task computes exactly what the first attempt would have, on any worker.

Test hook (fault injection): if the job's local property
``spark.bigdl.test.failOnce`` (set on the driver with
``sparkContext.setLocalProperty``) lists ``"<iteration>:<partition>"``
(comma-separated), those training tasks raise on their first attempt
(``attemptNumber() == 0``) only; Spark's retry then succeeds.
``spark.bigdl.test.killOnce`` (same format) instead SIGKILLs the task's Python
worker process on the first attempt, as a crash or the OOM killer would.
"""
from __future__ import annotations

import gc
import os
import signal
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence, Union

import numpy as np
from pyspark import Broadcast, TaskContext

from ..nn import random
from ..nn.module import Module
from ..serialization import model_from_bytes
from ..train.metrics import Metric, get_metric
from ..train.trainer import forward_backward
from .allreduce import Contribution
from .blocks import Block, Piece
from .epoch_layout import batch_share
from .errors import tagged
from .iteration_hub import HubWeights

FAIL_ONCE = "spark.bigdl.test.failOnce"
KILL_ONCE = "spark.bigdl.test.killOnce"
#: test hook: on a first attempt, a listed task sleeps this many seconds first (an executor can be killed mid-task)
HOLD_ONCE = "spark.bigdl.test.holdOnce"
HOLD_SECONDS = 3.0
#: replicas kept per Python worker (the newest runs)
MAX_REPLICAS = 2


def float_buffers(model: Module) -> np.ndarray:
    """All floating-point buffers (batch-norm running statistics), concatenated as one float32 vector."""
    parts = [np.asarray(b, dtype=np.float32).ravel() for b in _float_buffers(model)]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def set_float_buffers(model: Module, values: np.ndarray) -> None:
    """Write :func:`float_buffers`' layout back into the model's buffers, in place."""
    offset = 0
    for b in _float_buffers(model):
        b[...] = values[offset:offset + b.size].reshape(b.shape)
        offset += b.size


def _float_buffers(model: Module) -> list[np.ndarray]:
    return [b for _, b in model.named_buffers()
            if isinstance(b, np.ndarray) and np.issubdtype(b.dtype, np.floating)]


@dataclass(frozen=True)
class RunSpec:
    """Identifies a run's replica: ``model`` broadcasts ``(model bytes, loss bytes or None)``."""

    run_id: str
    model: Broadcast


class Replica:
    """A worker's copy of the model and loss (None for scoring), with the flat weight and gradient vectors."""

    def __init__(self, model_bytes: bytes, loss_bytes: bytes | None = None) -> None:
        self.model = model_from_bytes(model_bytes, source="broadcast model")
        self.loss = model_from_bytes(loss_bytes, source="broadcast loss") if loss_bytes is not None else None
        self.flat_w, self.flat_g = self.model.flatten_parameters()

    def load(self, weights: np.ndarray, buffers: np.ndarray) -> None:
        self.flat_w[...] = weights
        set_float_buffers(self.model, buffers)


_REPLICAS: "OrderedDict[str, Replica]" = OrderedDict()


def replica(run: RunSpec) -> Replica:
    """This worker's replica for ``run``, built from the broadcast on first use.

    A new replica is followed by ``gc.freeze()``: PySpark's daemon runs a full ``gc.collect()`` after every
    task of a reused worker, and scanning the worker's long-lived objects (imported modules, the cached
    models: about 94,000 objects when scoring LeNet-5) took 35-50 ms of CPU per task (load 6); frozen
    objects are skipped (reference counting still frees them). Evicting a replica unfreezes first, so
    its objects can be collected.
    """
    found = _REPLICAS.get(run.run_id)
    if found is None:
        found = _REPLICAS[run.run_id] = Replica(*run.model.value)
        if len(_REPLICAS) > MAX_REPLICAS:
            while len(_REPLICAS) > MAX_REPLICAS:
                _REPLICAS.popitem(last=False)
            gc.unfreeze()
            gc.collect()
        gc.freeze()
    _REPLICAS.move_to_end(run.run_id)
    return found


def task_seed(seed: int, iteration: int, partition: int) -> int:
    """The RNG seed of one training task: a function of (run seed, iteration, partition) only."""
    return int(np.random.SeedSequence([seed, iteration, partition]).generate_state(1, np.uint64)[0])


# ------------------------------------------------------------------ training
@dataclass(frozen=True)
class BroadcastWeights:
    """An iteration's weights in a Spark broadcast of ``(flat weights, float buffers, batch ids)``; each task's
    gradient goes back in its result (``sync="shuffle"``: through the shuffle's reduce-scatter)."""

    broadcast: Broadcast

    def fetch(self, iteration: int, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Copy the weights into ``weights``; the buffers and the batch's ids."""
        flat_w, buffers, batch = self.broadcast.value
        weights[...] = flat_w
        return buffers, batch

    def deliver(self, iteration: int, contribution: Contribution) -> Contribution:
        return contribution


#: where a training task gets its iteration's weights and puts its gradient
WeightSource = Union[BroadcastWeights, HubWeights]


@dataclass(frozen=True)
class StepSpec:
    """The training tasks of one iteration, or of consecutive ones (one job per iteration either way).

    Task ``index`` computes partition ``index % N`` of iteration ``iteration + index // N``: a job over
    an iteration's own ``N`` partitions (:meth:`EpochLayout.shares`) has indices ``0 .. N-1``; a job over
    partitions ``k*N .. k*N+N-1`` of the epoch's whole layout computes iteration ``iteration + k``.
    """

    run: RunSpec
    weights: WeightSource
    iteration: int           # 1-based number of the iteration of task indices 0 .. N-1
    seed: int
    num_partitions: int      # N: partition p's share is the batch's ids equal to p mod N


@tagged
def gradient(index: int, pieces: Iterable[Piece], spec: StepSpec) -> Iterator[Contribution]:
    """The training task: this partition's weighted share of the global batch's mean gradient.

    ``pieces`` are the partition's share of the batch in the epoch layout (the
    batch's samples with id ``partition`` mod N; :func:`~bigdl_runtime.spark.epoch_layout.batch_share`
    puts them in batch order); their ids must be exactly those of the iteration's
    batch, else the task fails. The loss is averaged over them, and gradient,
    loss and buffers are scaled by ``n_local / n_batch`` (the loss by 1 for a
    ``reduction="sum"`` loss), so summing over partitions gives the global
    batch's values. A partition without samples in the batch contributes zeros.
    """
    partition, iteration = index % spec.num_partitions, spec.iteration + index // spec.num_partitions
    inject_faults(iteration, partition)
    rep = replica(spec.run)
    buffers, batch = spec.weights.fetch(iteration, rep.flat_w)
    set_float_buffers(rep.model, buffers)
    share = batch_share(pieces)  # drains the input: Spark reuses a Python worker only if it read it all
    expected = batch[batch % spec.num_partitions == partition]
    ids = share[0] if share is not None else expected[:0]
    if not np.array_equal(ids, expected):
        raise RuntimeError(f"iteration {iteration}, partition {partition}: the epoch layout holds "
                           f"{ids.size} samples of this share ({np.intersect1d(ids, expected).size} of them right) "
                           f"where the batch has {expected.size}; the input's row order changed when a lost "
                           "block was recomputed (cache or checkpoint a non-deterministic input)")
    grad, extras = np.zeros_like(rep.flat_g), np.zeros(1 + buffers.size, np.float64)
    tic = time.perf_counter()
    if ids.size:
        _, xs, y = share
        extras[0], extras[1:] = weighted_gradient(rep.model, rep.loss, xs, y, ids.size / batch.size,
                                                  task_seed(spec.seed, iteration, partition))
        grad = rep.flat_g  # sent (pickled or pushed) before the worker runs anything else
    yield spec.weights.deliver(iteration, Contribution(partition, grad, extras, time.perf_counter() - tic,
                                                       int(ids.size)))


def weighted_gradient(model: Module, loss: Any, xs: Sequence[np.ndarray], y: np.ndarray, share: float,
                      seed: int) -> tuple[float, np.ndarray]:
    """Forward and backward on a task's ``share`` of the global batch, weighted so that the tasks' sum is the batch's.

    Seeds the runtime RNG (dropout) with ``seed``; leaves the gradient, scaled by
    ``share`` (by 1 for a ``reduction="sum"`` loss), in the model's parameters;
    returns the loss and the float buffers (batch-norm running statistics), scaled the same way.
    Both training modes call it, so they compute the same contributions bit for bit.
    """
    random.manual_seed(seed)
    model.train()
    loss_share = 1.0 if getattr(loss, "reduction", "mean") == "sum" else share
    value = forward_backward(model, loss, list(xs), y, scale=loss_share)
    return value * loss_share, float_buffers(model) * share


def inject_faults(iteration: int, partition: int, first_attempt: bool | None = None) -> None:
    """The test hooks: on a first attempt, die (``KILL_ONCE``), raise (``FAIL_ONCE``) or first sleep
    :data:`HOLD_SECONDS` (``HOLD_ONCE``, so that a test can kill the task's executor while it runs) where the job's
    property lists ``"<iteration>:<partition>"``. ``first_attempt`` None: this task's ``attemptNumber() == 0``."""
    context = TaskContext.get()
    if context is None or not (context.attemptNumber() == 0 if first_attempt is None else first_attempt):
        return
    here = f"{iteration}:{partition}"
    if here in (context.getLocalProperty(HOLD_ONCE) or "").split(","):
        time.sleep(HOLD_SECONDS)
    if here in (context.getLocalProperty(KILL_ONCE) or "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies mid-task, no Python error reaches the JVM
    if here in (context.getLocalProperty(FAIL_ONCE) or "").split(","):
        raise RuntimeError(f"injected failure of iteration {iteration}, partition {partition} "
                           f"(test hook {FAIL_ONCE}, first attempt only)")


# ---------------------------------------------------------- evaluation / predict
@dataclass(frozen=True)
class EvalSpec:
    """A map-only job over the replica; ``weights`` (or None: the shipped model's) as in :class:`StepSpec`."""

    run: RunSpec
    weights: Broadcast | None
    batch_size: int
    metrics: Sequence[str | Metric] = ()


def _eval_replica(spec: EvalSpec) -> Replica:
    rep = replica(spec.run)
    if spec.weights is not None:
        weights, buffers, _ = spec.weights.value
        rep.load(weights, buffers)
    rep.model.evaluate()
    return rep


@tagged
def metric_states(blocks: Iterable[Block], spec: EvalSpec) -> Iterator[list[Any]]:
    """The validation task: each metric's mergeable ``state()`` over this partition's records, batch by batch."""
    rep = _eval_replica(spec)
    metrics = [get_metric(m, loss=rep.loss) for m in spec.metrics]
    update_metrics(rep.model, blocks, metrics, spec.batch_size)
    yield [m.state() for m in metrics]


def update_metrics(model: Module, blocks: Iterable[Block], metrics: Sequence[Metric], batch_size: int) -> None:
    """Feed ``model``'s outputs on every record of ``blocks``, ``batch_size`` samples at a time, to ``metrics``."""
    for _, xs, y in blocks:
        for start in range(0, y.shape[0], batch_size):
            output = model.forward(*(x[start:start + batch_size] for x in xs))
            for m in metrics:
                m.update(output, y[start:start + batch_size])


@tagged
def predictions(blocks: Iterable[Block], spec: EvalSpec) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The prediction task: ``(global ids, outputs)`` of each non-empty record of this partition."""
    rep = _eval_replica(spec)
    for ids, xs, _ in blocks:
        if ids.size:
            yield ids, np.concatenate([rep.model.forward(*(x[start:start + spec.batch_size] for x in xs))
                                       for start in range(0, ids.size, spec.batch_size)], axis=0)
