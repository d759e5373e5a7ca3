"""What both trainers set up before the first iteration of a ``fit``, and what their checkpoints record.

:func:`prepare_fit` makes the run's random generator and shuffling seed, or takes them, the summaries so far
and the position from a checkpoint (``resume_from``); :meth:`FitSetup.trainer_state` is the trainer dict a
checkpoint stores. The run's generator is carried here, not in the process: a trainer installs it while it
fits (``with nn.random.using(setup.rng)``), so layers draw from it, and the process's generator is left as
it was.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nn import random
from ..nn.module import Module
from .checkpoint import load_checkpoint
from .local_fs import FileSystem
from .summary import History
from .triggers import TrainState


@dataclass
class FitSetup:
    """A fit's starting point.

    Attributes:
        history: the summary rows so far (empty, or the resumed run's) and the state to start from.
        shuffle_seed: seeds each epoch's permutation (and, on Spark, the tasks' generators).
        rng: the run's generator (dropout and anything else drawing from :func:`bigdl_runtime.nn.random.rng`).
        epoch_size: samples per epoch.
        batch_size: samples per iteration.
    """

    history: History
    shuffle_seed: int
    rng: np.random.Generator
    epoch_size: int
    batch_size: int

    def trainer_state(self, state: TrainState) -> dict[str, Any]:
        """The trainer dict of a checkpoint at ``state`` (:func:`~bigdl_runtime.train.save_checkpoint`)."""
        return {"state": state.to_dict(), "shuffle_seed": self.shuffle_seed, "rng": self.rng.bit_generator.state,
                "epoch_size": self.epoch_size, "batch_size": self.batch_size,
                "train": self.history.train, "validation": self.history.validation}


def prepare_fit(model: Module, optimizer: Any, epoch_size: int, batch_size: int, seed: int | None,
                resume_from: str | os.PathLike | None, fs: FileSystem | None = None) -> FitSetup:
    """The starting point of a fit of ``epoch_size`` samples in batches of ``batch_size``.

    Args:
        seed: seeds the run's generator and is the shuffling seed; None draws the shuffling seed from the
            process's generator and seeds the run's with it.
        resume_from: a checkpoint (or checkpoint directory) to continue from: the model and optimizer get
            its weights and state, the setup its summaries, position, shuffling seed and generator state.
            ValueError if it was trained on another epoch or batch size.
        fs: the file system of ``resume_from`` (default: the local disk).
    """
    shuffle_seed = seed if seed is not None else int(random.rng().integers(2**63))
    setup = FitSetup(History(), shuffle_seed, np.random.default_rng(shuffle_seed), epoch_size, batch_size)
    if resume_from is None:
        return setup
    trainer = load_checkpoint(resume_from, model, optimizer, fs=fs)
    if (trainer["epoch_size"], trainer["batch_size"]) != (epoch_size, batch_size):
        raise ValueError(f"cannot resume from {resume_from}: it was trained on {trainer['epoch_size']} samples in "
                         f"batches of {trainer['batch_size']}, not {epoch_size} in batches of {batch_size}")
    setup.history = History(train=trainer["train"], validation=trainer["validation"],
                            state=TrainState.from_dict(trainer["state"]))
    setup.shuffle_seed = trainer["shuffle_seed"]
    setup.rng.bit_generator.state = trainer["rng"]
    return setup
