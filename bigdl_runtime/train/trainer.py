"""LocalTrainer: mini-batch training of a model on in-memory arrays, in one process.

The per-iteration bookkeeping (state, triggers, validation, summaries,
progress, checkpoints) lives in :class:`TrainingLoop`, which takes the
iteration itself as a function; the distributed trainer reuses the loop with an
iteration that runs on Spark, so both honour the same ``fit`` contract.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..nn import random
from ..nn.module import Module
from .checkpoint import save_checkpoint
from .fit_setup import prepare_fit
from .metrics import Metric, get_metric
from .progress import Progress
from .summary import History, SummaryWriter
from .triggers import EveryEpoch, MaxEpoch, MaxIteration, TrainState, Trigger

Inputs = np.ndarray | Sequence[np.ndarray]
MetricSpec = Sequence[str | Metric]


def forward_backward(model: Module, loss: Any, inputs: Sequence[np.ndarray], target: np.ndarray,
                     scale: float = 1.0) -> float:
    """Zero the gradients, run forward, the loss and backward; return the loss.

    Parameter gradients are left in ``p.grad`` for an optimizer step (locally)
    or for all-reduce (on a Spark worker), multiplied by ``scale`` (a task's
    share of the global batch): the loss gradient is scaled before backward,
    which is cheaper than scaling every parameter gradient after it.
    """
    model.zero_grad()
    output = model.forward(*inputs)
    value = float(loss.forward(output, target))
    grad = loss.backward(output, target)
    model.backward(grad if scale == 1.0 else grad * np.asarray(scale, dtype=grad.dtype))
    return value


class TrainingLoop:
    """Runs iterations until ``end_trigger`` fires, doing the per-iteration bookkeeping.

    After each iteration (``step(state) -> (loss, samples)``, which trains on
    the batch at ``state.epoch`` / ``state.epoch_records``; a step may return
    ``(loss, samples, extra)`` with a dict of extra summary-row fields, e.g. the
    distributed trainer's timings) the loop updates
    ``state``, writes a summary row and the progress, validates when
    ``validation_trigger`` fires, tells the optimizer an epoch ended and
    checkpoints when ``checkpoint_trigger`` fires.

    Args:
        optimizer: read for ``current_lr``; told ``epoch_end(epoch, metric)``.
        end_trigger: stops the loop (checked before every iteration).
        epoch_size: samples in one epoch.
        history: rows so far and the state to continue from (empty for a fresh run).
        validate: returns ``{metric name: value}``; None disables validation.
        checkpoint: saves a checkpoint for a state; None disables checkpoints.
        summary: where to write rows, or None.
        progress: the progress reporter.
    """

    def __init__(self, optimizer: Any, end_trigger: Trigger, epoch_size: int, history: History,
                 validate: Callable[[], dict[str, float]] | None, validation_trigger: Trigger,
                 checkpoint: Callable[[TrainState], None] | None, checkpoint_trigger: Trigger,
                 summary: SummaryWriter | None, progress: Progress) -> None:
        self.optimizer = optimizer
        self.end_trigger = end_trigger
        self.epoch_size = epoch_size
        self.history = history
        self.validate = validate
        self.validation_trigger = validation_trigger
        self.checkpoint = checkpoint
        self.checkpoint_trigger = checkpoint_trigger
        self.summary = summary
        self.progress = progress

    def run(self, step: Callable[[TrainState], tuple[float, int] | tuple[float, int, dict[str, Any]]]) -> History:
        state = self.history.state
        start, wall_before = time.perf_counter(), state.wall_time
        try:
            while not self.end_trigger(state):
                if state.epoch_finished:
                    state.epoch, state.epoch_finished, state.epoch_records = state.epoch + 1, False, 0
                lr = float(self.optimizer.current_lr)
                tic = time.perf_counter()
                loss, samples, *extra = step(state)
                seconds = time.perf_counter() - tic
                state.iteration += 1
                state.records += samples
                state.epoch_records += samples
                state.epoch_finished = state.epoch_records >= self.epoch_size
                state.loss = loss
                state.wall_time = wall_before + time.perf_counter() - start
                self._record_iteration(state, lr, samples / max(seconds, 1e-9), *extra)
                self.progress.update(state, samples, seconds)
                score = self._maybe_validate(state)
                if state.epoch_finished:
                    self.optimizer.epoch_end(state.epoch, metric=score)
                if self.checkpoint is not None and self.checkpoint_trigger(state):
                    self.checkpoint(state)
        finally:
            self.progress.close()
            if self.summary is not None:
                self.summary.close()
        return self.history

    def _record_iteration(self, state: TrainState, lr: float, throughput: float,
                          extra: dict[str, Any] | None = None) -> None:
        row = {"iteration": state.iteration, "epoch": state.epoch, "loss": state.loss, "lr": lr,
               "throughput": throughput, "wall_time": state.wall_time, **(extra or {})}
        self.history.train.append(row)
        if self.summary is not None:
            self.summary.add_train(row)

    def _maybe_validate(self, state: TrainState) -> float | None:
        if self.validate is None or not self.validation_trigger(state):
            return None
        results = self.validate()
        state.score = next(iter(results.values()))
        row = {"iteration": state.iteration, "epoch": state.epoch, **results}
        self.history.validation.append(row)
        if self.summary is not None:
            self.summary.add_validation(row)
        self.progress.message(f"validation at epoch {state.epoch} iteration {state.iteration}: "
                              + ", ".join(f"{k} {v:.4f}" for k, v in results.items()))
        return state.score


def end_trigger_for(epochs: int | None, iterations: int | None, end_trigger: Trigger | None) -> Trigger:
    """The trigger that ends ``fit``: whichever of the given limits comes first."""
    parts = [t for t in (MaxEpoch(epochs) if epochs is not None else None,
                         MaxIteration(iterations) if iterations is not None else None, end_trigger)
             if t is not None]
    if not parts:
        raise ValueError("fit needs an end: give epochs, iterations or end_trigger")
    result = parts[0]
    for t in parts[1:]:
        result = result | t
    return result


def _as_inputs(x: Inputs, what: str) -> list[np.ndarray]:
    xs = [np.asarray(a) for a in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]
    if not xs or any(a.ndim == 0 for a in xs):
        raise ValueError(f"{what}: expected an array or a list of arrays with a batch dimension")
    n = xs[0].shape[0]
    if any(a.shape[0] != n for a in xs):
        raise ValueError(f"{what}: inputs have different numbers of samples {[a.shape[0] for a in xs]}")
    return xs


class LocalTrainer:
    """Trains ``model`` with ``loss`` and ``optimizer`` on numpy arrays, in this process.

    Args:
        model: the network; its parameters are the ones ``optimizer`` updates.
        loss: a loss module (``forward(output, target) -> float``,
            ``backward(output, target) -> grad``).
        optimizer: e.g. ``SGD(model.parameters(), lr=0.1, momentum=0.9)``.

    Examples:
        >>> trainer = LocalTrainer(model, CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3))
        >>> history = trainer.fit(x, y, batch_size=64, epochs=5, validation=(xv, yv), seed=0)
        >>> trainer.evaluate(xv, yv, metrics=("top1", "loss"))
        {'top1': 0.91, 'loss': 0.25}
    """

    def __init__(self, model: Module, loss: Any, optimizer: Any) -> None:
        self.model = model
        self.loss = loss
        self.optimizer = optimizer

    # ------------------------------------------------------------------ fit
    def fit(self, x: Inputs, y: np.ndarray, batch_size: int = 32, epochs: int | None = None,
            iterations: int | None = None, end_trigger: Trigger | None = None,
            validation: tuple[Inputs, np.ndarray] | None = None, metrics: MetricSpec = ("top1",),
            validation_trigger: Trigger | None = None, checkpoint: str | os.PathLike | None = None,
            checkpoint_trigger: Trigger | None = None, resume_from: str | os.PathLike | None = None,
            seed: int | None = None, shuffle: bool = True, summary: str | os.PathLike | None = None,
            progress: bool = True) -> History:
        """Train until the end (``epochs``, ``iterations`` or ``end_trigger``, whichever first).

        Each epoch visits every sample once, in batches of ``batch_size`` (the
        last one may be smaller) drawn from a permutation seeded by ``seed`` and
        the epoch number, so the same seed, data and model give the same weights.

        Args:
            x: inputs ``(N, ...)``, or a list of arrays for a multi-input model.
            y: targets ``(N, ...)``.
            validation: ``(x_val, y_val)`` evaluated with ``metrics`` whenever
                ``validation_trigger`` fires (default: every epoch); the first
                metric is the score :class:`MaxScore` looks at.
            checkpoint: directory for checkpoints, written when
                ``checkpoint_trigger`` fires (default: every epoch).
            resume_from: a checkpoint (or checkpoint directory) to continue from:
                the run then ends exactly as an uninterrupted one would.
            seed: seeds the run's generator (dropout and anything drawing from
                :func:`bigdl_runtime.nn.random.rng` while the fit runs; the process's
                generator is left as it was) and the shuffling; None draws the seed from
                the process's generator.
            summary: a JSON-lines file for per-iteration and per-validation rows.
            progress: report progress on stderr.

        Returns:
            the :class:`History` (all summary rows and the final state).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        xs = _as_inputs(x, "fit x")
        y = np.asarray(y)
        n = xs[0].shape[0]
        if n == 0 or y.shape[:1] != (n,):
            raise ValueError(f"fit: {n} input samples but y has shape {y.shape}")
        end = end_trigger_for(epochs, iterations, end_trigger)
        setup = prepare_fit(self.model, self.optimizer, n, batch_size, seed, resume_from)

        def save(state: TrainState) -> None:
            save_checkpoint(checkpoint, self.model, self.optimizer, setup.trainer_state(state))

        def validate() -> dict[str, float]:
            return self.evaluate(validation[0], validation[1], metrics=metrics, batch_size=batch_size)

        order = EpochOrder(n, setup.shuffle_seed, shuffle)

        def step(state: TrainState) -> tuple[float, int]:
            index = order(state.epoch)[state.epoch_records:state.epoch_records + batch_size]
            value = forward_backward(self.model, self.loss, [a[index] for a in xs], y[index])
            self.optimizer.step()
            return value, int(index.size)

        per_epoch = math.ceil(n / batch_size)
        loop = TrainingLoop(
            self.optimizer, end, n, setup.history,
            validate=validate if validation is not None else None,
            validation_trigger=validation_trigger or EveryEpoch(),
            checkpoint=save if checkpoint is not None else None,
            checkpoint_trigger=checkpoint_trigger or EveryEpoch(),
            summary=SummaryWriter(summary, start=setup.history) if summary is not None else None,
            progress=Progress(end.max_iterations(per_epoch), per_epoch,
                              log_every=max(1, per_epoch // 10), enabled=progress))
        self.model.train()
        with random.using(setup.rng):
            return loop.run(step)

    # ------------------------------------------------------- evaluate / predict
    def evaluate(self, x: Inputs, y: np.ndarray, metrics: MetricSpec = ("top1",),
                 batch_size: int = 32) -> dict[str, float]:
        """Metric values over ``(x, y)``, computed batch by batch in evaluation mode."""
        xs = _as_inputs(x, "evaluate x")
        y = np.asarray(y)
        if y.shape[:1] != xs[0].shape[:1]:
            raise ValueError(f"evaluate: {xs[0].shape[0]} input samples but y has shape {y.shape}")
        found = [get_metric(m, loss=self.loss) for m in metrics]
        with self._evaluation_mode():
            for start in range(0, y.shape[0], batch_size):
                output = self.model.forward(*(a[start:start + batch_size] for a in xs))
                for m in found:
                    m.update(output, y[start:start + batch_size])
        return {m.name: m.result() for m in found}

    def predict(self, x: Inputs, batch_size: int = 32) -> np.ndarray:
        """Model outputs for ``x``, computed batch by batch in evaluation mode."""
        xs = _as_inputs(x, "predict x")
        if xs[0].shape[0] == 0:
            raise ValueError("predict: x has no samples")
        with self._evaluation_mode():
            outputs = [self.model.forward(*(a[start:start + batch_size] for a in xs))
                       for start in range(0, xs[0].shape[0], batch_size)]
        return np.concatenate(outputs, axis=0)

    @contextlib.contextmanager
    def _evaluation_mode(self) -> Iterator[None]:
        was_training = self.model.training
        self.model.evaluate()
        try:
            yield
        finally:
            self.model.train(was_training)


class EpochOrder:
    """Sample order of each epoch: a permutation seeded by (seed, epoch), or 0..n-1.

    Shared by both trainers: the same seed gives the same global batches locally and on Spark.
    """

    def __init__(self, n: int, seed: int, shuffle: bool) -> None:
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self._epoch, self._order = 0, np.arange(n)

    def __call__(self, epoch: int) -> np.ndarray:
        if self.shuffle and epoch != self._epoch:
            self._epoch, self._order = epoch, np.random.default_rng([self.seed, epoch]).permutation(self.n)
        return self._order
