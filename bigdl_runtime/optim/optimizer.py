"""The optimizer contract shared by the local and the distributed trainer.

An optimizer updates a list of :class:`~bigdl_runtime.nn.module.Parameter`
in place from their ``grad``. It assumes nothing about layers: the
distributed trainer hands it a single Parameter viewing the whole flat weight
vector. One ``step()``:

1. takes every trainable parameter's gradient, plus
   ``p.regularizer.grad(p.data)`` when a regularizer is attached;
2. clips them: by value (``clip_value``), then by global L2 norm
   (``clip_norm``). Without a regularizer this rescales ``p.grad`` itself;
3. applies the subclass's update rule with ``current_lr``, writing into
   ``p.data`` (never rebinding it), and counts the iteration.

``state_dict()`` holds only plain values and numpy arrays under flat string
keys (``"hyper.lr"``, ``"state.0.exp_avg"``, ``"schedule.type"``, ...), so a
checkpoint can store it without pickle.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..nn.module import Parameter
from .clipping import clamp, global_norm, scale_to_norm
from .schedules import Schedule

PerParam = dict[str, Any]


class Optimizer:
    """Base class: subclasses name their hyper-parameters in ``_hyper`` and implement ``_update``.

    Args:
        params: the parameters to optimize (frozen ones are skipped at each step).
        lr: base learning rate.
        schedule: optional :class:`~bigdl_runtime.optim.schedules.Schedule` scaling ``lr``.
        clip_norm: optional maximal global L2 norm of the gradients.
        clip_value: optional bound on every gradient element's magnitude.
    """

    _hyper: tuple[str, ...] = ()
    #: per-parameter state entries that are step counters (ints), not arrays shaped like the parameter
    _counters: tuple[str, ...] = ("step",)

    def __init__(self, params: Iterable[Parameter], lr: float, schedule: Schedule | None = None,
                 clip_norm: float | None = None, clip_value: float | None = None) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{type(self).__name__}: params[{i}] is a {type(p).__name__}, not a Parameter")
        check_non_negative(self, "lr", lr)
        for key, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None and value <= 0:
                raise ValueError(f"{type(self).__name__}: {key} must be > 0, got {value}")
        self.lr = float(lr)
        self.schedule = schedule
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.iteration = 0
        self.epoch = 0
        self.state: list[PerParam] = [{} for _ in self.params]
        self._scratch: dict[tuple[int, str], np.ndarray] = {}

    # ------------------------------------------------------------------ contract
    @property
    def current_lr(self) -> float:
        """The base lr times the schedule's factor at the current iteration and epoch."""
        if self.schedule is None:
            return self.lr
        return self.lr * self.schedule.lr_factor(self.iteration, self.epoch, self.lr)

    def step(self, norm: Callable[[Sequence[np.ndarray]], float] = global_norm,
             before: Callable[[int], None] | None = None) -> None:
        """Apply one update to the trainable parameters from their gradients.

        ``norm`` computes the global L2 norm that ``clip_norm`` compares with; an
        optimizer that owns a slice of the parameters (:mod:`~bigdl_runtime.optim.sharding`)
        passes one that sums the squares of every slice.

        ``before(i)``, when given, is called before parameter ``i``'s gradient is
        first read: a caller can produce each gradient just in time (the gang
        sums a slice's gradients piece by piece, each while it is in cache).
        Without ``clip_norm`` parameter ``i`` is updated right after its call;
        with it (a global norm) every call comes first.
        """
        lr = self.current_lr
        active = [(i, p) for i, p in enumerate(self.params) if p.trainable]
        if self.clip_norm is not None:
            if before is not None:
                for i, _ in active:
                    before(i)
            grads = [self._gradient(p) for _, p in active]
            scale_to_norm(grads, self.clip_norm, norm)
            for (i, p), g in zip(active, grads):
                self._update(i, p.data, g, lr, self.state[i])
        else:  # every rule is element-wise: each parameter is done before the next one's gradient is read
            for i, p in active:
                if before is not None:
                    before(i)
                self._update(i, p.data, self._gradient(p), lr, self.state[i])
        self.iteration += 1

    def _gradient(self, p: Parameter) -> np.ndarray:
        """What the update rule applies for ``p``: its gradient plus its regularizer's, clamped by ``clip_value``.

        Without a regularizer this is ``p.grad`` itself, clamped in place.
        """
        g = p.grad if p.regularizer is None else p.grad + p.regularizer.grad(p.data)
        if self.clip_value is not None:
            clamp([g], self.clip_value)
        return g

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad[...] = 0

    def epoch_end(self, epoch: int, metric: float | None = None) -> None:
        """Record that epoch number ``epoch`` (1-based: the count of completed epochs) has finished.

        ``metric`` (a validation loss or score) drives ReduceLROnPlateau.
        """
        if epoch < 1:
            raise ValueError(f"{type(self).__name__}.epoch_end: epoch counts completed epochs and starts "
                             f"at 1, got {epoch}")
        self.epoch = int(epoch)
        if self.schedule is not None:
            self.schedule.epoch_end(self.epoch, metric, self.lr)

    # --------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters, counters, per-parameter state by index and schedule state (copies)."""
        state: dict[str, Any] = {"type": type(self).__name__, "iteration": self.iteration, "epoch": self.epoch,
                                 "num_params": len(self.params)}
        for key in ("lr", "clip_norm", "clip_value", *self._hyper):
            value = getattr(self, key)
            state[f"hyper.{key}"] = np.array(value) if isinstance(value, tuple) else value
        for i, per_param in enumerate(self.state):
            for key, value in per_param.items():
                state[f"state.{i}.{key}"] = value.copy() if isinstance(value, np.ndarray) else value
        if self.schedule is not None:
            state.update({f"schedule.{k}": v for k, v in self.schedule.state_dict().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the parameters must have the same shapes."""
        name = type(self).__name__
        if state.get("type") != name:
            raise ValueError(f"{name}: cannot load the state of a {state.get('type')} optimizer")
        if state["num_params"] != len(self.params):
            raise ValueError(f"{name}: the state is for {state['num_params']} parameters, "
                             f"this optimizer has {len(self.params)}")
        schedule_state = {k[len("schedule."):]: v for k, v in state.items() if k.startswith("schedule.")}
        if (self.schedule is None) != (not schedule_state):
            raise ValueError(f"{name}: the saved state {'has' if schedule_state else 'has no'} schedule, "
                             f"this optimizer {'has none' if self.schedule is None else 'has one'}")
        per_param: list[PerParam] = [{} for _ in self.params]
        for key, value in state.items():
            if not key.startswith("state."):
                continue
            _, index, field = key.split(".", 2)
            p = self.params[int(index)]
            if field in self._counters:
                value = int(value)
            else:
                value = np.asarray(value)
                if value.shape != p.shape:
                    raise ValueError(f"{name}: '{key}' has shape {value.shape}, parameter {index} has {p.shape}")
                value = value.astype(p.data.dtype, copy=True)
            per_param[int(index)][field] = value
        for key in ("lr", "clip_norm", "clip_value", *self._hyper):
            value = state[f"hyper.{key}"]
            value = value.tolist() if isinstance(value, np.ndarray) else value
            setattr(self, key, tuple(value) if isinstance(value, list) else value)
        if self.schedule is not None:
            self.schedule.load_state_dict(schedule_state)
        self.iteration = int(state["iteration"])
        self.epoch = int(state["epoch"])
        self.state = per_param

    # ---------------------------------------------------------- for subclasses
    def _update(self, index: int, w: np.ndarray, g: np.ndarray, lr: float, state: PerParam) -> None:
        """Update weights ``w`` in place from gradient ``g`` (do not modify ``g``: it may be ``p.grad``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    def _work(self, w: np.ndarray, slot: int = 0) -> np.ndarray:
        """A scratch array shaped like ``w`` for temporaries of one update (one per slot).

        Every parameter's update uses the same memory (one flat buffer per slot and dtype, as large as
        the largest parameter), so the scratch stays in cache from one parameter to the next instead of
        being a second copy of the model that is written back to memory (measured with the gang's
        pieces: see ``PIECE_ELEMENTS`` in ``optim/sharding.py``).
        Scratch never outlives the ``_update`` call that asked for it.
        """
        key = (slot, w.dtype.str)
        buf = self._scratch.get(key)
        if buf is None or buf.size < w.size:
            buf = self._scratch[key] = np.empty(w.size, w.dtype)
        return buf[:w.size].reshape(w.shape)

    def _buffer(self, state: PerParam, key: str, w: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """Per-parameter state array ``key``, created filled with ``fill`` on first use."""
        if key not in state:
            state[key] = np.full_like(w, fill)
        return state[key]

    def _with_weight_decay(self, w: np.ndarray, g: np.ndarray, weight_decay: float) -> np.ndarray:
        """``g + weight_decay * w`` in a scratch array (or ``g`` itself when there is no decay)."""
        if not weight_decay:
            return g
        out = self._work(w, 0)
        np.multiply(w, weight_decay, out=out)
        out += g
        return out

    def __repr__(self) -> str:
        hyper = ", ".join(f"{k}={getattr(self, k)!r}" for k in ("lr", *self._hyper))
        return f"{type(self).__name__}({len(self.params)} params, {hyper}, schedule={self.schedule!r})"


def check_non_negative(opt: Optimizer, key: str, value: float) -> None:
    """Reject a negative (or NaN) hyper-parameter with the optimizer's name in the message."""
    if not value >= 0:
        raise ValueError(f"{type(opt).__name__}: {key} must be >= 0, got {value}")
