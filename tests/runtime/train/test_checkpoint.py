"""Checkpoints: stop-and-resume gives the uninterrupted run's weights and summaries; layout,
atomic replacement, and resume errors."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.serialization import load_model
from bigdl_runtime.train import SeveralIteration, read_summary, resolve_checkpoint, save_checkpoint
from bigdl_runtime.train import checkpoint as checkpoint_module

from .test_trainer import blobs, make_trainer, weights

# 20 samples in batches of 6: 4 iterations per epoch, the last one of 2 samples
FIT = {"batch_size": 6, "seed": 11, "progress": False}


def uninterrupted(iterations: int, tmp_path):
    x, y = blobs(20)
    trainer = make_trainer()
    history = trainer.fit(x, y, iterations=iterations, validation=(x, y), summary=tmp_path / "full.jsonl", **FIT)
    return trainer, history


@pytest.mark.parametrize("stop_at, every", [(3, 3), (4, 2), (9, 3)])  # mid-epoch, at an epoch end, epoch 3
def test_resume_gives_the_uninterrupted_weights(tmp_path, stop_at, every):
    full, full_history = uninterrupted(11, tmp_path)
    x, y = blobs(20)
    first = make_trainer()
    first.fit(x, y, iterations=stop_at, validation=(x, y), checkpoint=tmp_path / "ckpt",
              checkpoint_trigger=SeveralIteration(every), **FIT)
    resumed = make_trainer(seed=99)                 # different initial weights: all come from the checkpoint
    history = resumed.fit(x, y, iterations=11, validation=(x, y), resume_from=tmp_path / "ckpt",
                          summary=tmp_path / "resumed.jsonl", **FIT)
    for a, b in zip(weights(full), weights(resumed)):
        np.testing.assert_array_equal(a, b)
    assert history.state.iteration == 11 and history.state.records == full_history.state.records
    assert [r["loss"] for r in history.train] == [r["loss"] for r in full_history.train]
    assert history.validation == full_history.validation
    assert read_summary(tmp_path / "resumed.jsonl").train == history.train


def test_layout_keeps_only_the_newest_and_model_file_loads(tmp_path):
    x, y = blobs(20)
    trainer = make_trainer()
    trainer.fit(x, y, epochs=2, checkpoint=tmp_path, **FIT)     # checkpoints after iterations 4 and 8
    assert (tmp_path / "latest").read_text().strip() == "checkpoint-8"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-8", "latest"]
    assert resolve_checkpoint(tmp_path) == resolve_checkpoint(tmp_path / "checkpoint-8") == tmp_path / "checkpoint-8"
    loaded = load_model(str(tmp_path / "checkpoint-8" / "model.bigdl"))
    for a, b in zip(weights(trainer), [p.data for p in loaded.parameters()]):
        np.testing.assert_array_equal(a, b)


def test_failed_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    x, y = blobs(20)
    trainer = make_trainer()
    trainer.fit(x, y, epochs=1, checkpoint=tmp_path, **FIT)

    def broken(path, state):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_state", broken)
    state = {"state": {"iteration": 5}}
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path, trainer.model, trainer.optimizer, state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-4", "latest"]
    assert resolve_checkpoint(tmp_path).name == "checkpoint-4"


def test_resume_errors(tmp_path):
    x, y = blobs(20)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        make_trainer().fit(x, y, epochs=1, resume_from=tmp_path / "missing", **FIT)
    make_trainer().fit(x, y, epochs=1, checkpoint=tmp_path, **FIT)
    with pytest.raises(ValueError, match="batches of 6, not 20 in batches of 5"):
        make_trainer().fit(x, y, epochs=2, resume_from=tmp_path, **{**FIT, "batch_size": 5})
