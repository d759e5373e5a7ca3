"""Checkpoints: stop-and-resume gives the uninterrupted run's weights and summaries; layout;
save/load through the local disk and Hadoop's FileSystem (``file://`` via Spark); a crash at any
step leaves a resumable checkpoint; fallback when ``latest`` is missing; resume and scheme errors."""
from __future__ import annotations

import os
import posixpath

import numpy as np
import pytest

from bigdl_runtime.serialization import load_model
from bigdl_runtime.train import (SeveralIteration, load_checkpoint, read_summary, resolve_checkpoint,
                                 save_checkpoint)
from bigdl_runtime.train.checkpoint import LATEST, MODEL_FILE, STATE_FILE
from bigdl_runtime.train.local_fs import LocalFileSystem

from .test_trainer import blobs, make_trainer, weights

# 20 samples in batches of 6: 4 iterations per epoch, the last one of 2 samples
FIT = {"batch_size": 6, "seed": 11, "progress": False}


@pytest.fixture(params=["local", "hadoop"])
def storage(request, tmp_path):
    """(filesystem, root directory): the local disk, or Hadoop's FileSystem on a file:// URI."""
    if request.param == "local":
        return LocalFileSystem(), tmp_path
    from bigdl_runtime.spark.hadoop_fs import HadoopFileSystem

    return HadoopFileSystem(request.getfixturevalue("spark"), tmp_path.as_uri()), tmp_path.as_uri()


def name_of(path) -> str:
    return posixpath.basename(os.fspath(path).rstrip("/"))


def trained(iterations: int = 5, seed: int = 0):
    x, y = blobs(20)
    trainer = make_trainer(seed=seed)
    trainer.fit(x, y, iterations=iterations, **FIT)
    return trainer


def trainer_dict(iteration: int) -> dict:
    return {"state": {"iteration": iteration}, "rng": 2**100 + 7, "note": None, "rows": [1.5, "a"]}


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


def test_resume_errors(tmp_path):
    x, y = blobs(20)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        make_trainer().fit(x, y, epochs=1, resume_from=tmp_path / "missing", **FIT)
    make_trainer().fit(x, y, epochs=1, checkpoint=tmp_path, **FIT)
    with pytest.raises(ValueError, match="batches of 6, not 20 in batches of 5"):
        make_trainer().fit(x, y, epochs=2, resume_from=tmp_path, **{**FIT, "batch_size": 5})


def test_save_and_load_through_each_filesystem(storage):
    fs, root = storage
    trainer = trained()
    save_checkpoint(root, trainer.model, trainer.optimizer, trainer_dict(5), fs=fs)
    path = save_checkpoint(root, trainer.model, trainer.optimizer, trainer_dict(5), fs=fs)  # a re-run: no overwrite
    assert name_of(path) == "checkpoint-5.1"
    assert fs.listdir(root) == ["checkpoint-5.1", LATEST]
    assert fs.read_bytes(fs.join(root, LATEST)) == b"checkpoint-5.1\n"
    resumed = make_trainer(seed=99)
    assert load_checkpoint(root, resumed.model, resumed.optimizer, fs=fs) == trainer_dict(5)
    for a, b in zip(weights(trainer), weights(resumed)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(trainer.optimizer.state, resumed.optimizer.state):
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert resumed.optimizer.iteration == trainer.optimizer.iteration == 5


@pytest.mark.parametrize("method, target, left", [
    ("write_bytes_atomic", STATE_FILE, []),               # half-way through the new checkpoint
    ("rename", None, []),                                 # renaming it into place
    ("write_bytes_atomic", LATEST, ["checkpoint-9"]),     # moving the pointer on
])
def test_a_failed_save_leaves_the_previous_checkpoint(storage, monkeypatch, method, target, left):
    fs, root = storage
    trainer = trained()
    save_checkpoint(root, trainer.model, trainer.optimizer, trainer_dict(5), fs=fs)
    original = getattr(fs, method)

    def failing(path, *args):
        if target is None or name_of(path) == target:
            raise OSError("disk full")
        return original(path, *args)

    monkeypatch.setattr(fs, method, failing)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(root, trainer.model, trainer.optimizer, trainer_dict(9), fs=fs)
    assert fs.listdir(root) == sorted(["checkpoint-5", LATEST, *left])
    assert name_of(resolve_checkpoint(root, fs=fs)) == "checkpoint-5"


def copy_checkpoint(fs, root, source: str, name: str, files=(MODEL_FILE, STATE_FILE)) -> None:
    for file in files:
        fs.write_bytes_atomic(fs.join(fs.join(root, name), file), fs.read_bytes(fs.join(fs.join(root, source), file)))


@pytest.mark.parametrize("latest, expected", [
    ("checkpoint-4", "checkpoint-4"),       # a valid pointer wins
    (None, "checkpoint-12.1"),              # deleted before its replacement was renamed in (HDFS)
    ("checkpoint-99", "checkpoint-12.1"),   # names a removed directory
    ("checkpoint-30", "checkpoint-12.1"),   # names an incomplete one
])
def test_resolve_falls_back_to_the_newest_complete_checkpoint(storage, latest, expected):
    fs, root = storage
    trainer = trained()
    save_checkpoint(root, trainer.model, trainer.optimizer, trainer_dict(4), fs=fs)
    for name in ("checkpoint-12", "checkpoint-12.1", "checkpoint-9"):
        copy_checkpoint(fs, root, "checkpoint-4", name)
    copy_checkpoint(fs, root, "checkpoint-4", "checkpoint-30", files=(MODEL_FILE,))
    copy_checkpoint(fs, root, "checkpoint-4", ".checkpoint-31.77.ab12.tmp")  # a crashed writer's leftover
    if latest is None:
        fs.delete(fs.join(root, LATEST))
    else:
        fs.write_bytes_atomic(fs.join(root, LATEST), latest.encode())
    assert name_of(resolve_checkpoint(root, fs=fs)) == expected
    fresh = make_trainer()
    assert load_checkpoint(root, fresh.model, fresh.optimizer, fs=fs) == trainer_dict(4)
    save_checkpoint(root, trainer.model, trainer.optimizer, trainer_dict(40), fs=fs)
    assert fs.listdir(root) == ["checkpoint-40", LATEST]      # stale, incomplete and old ones removed


def test_no_complete_checkpoint(tmp_path):
    fs = LocalFileSystem()
    half = tmp_path / "checkpoint-3"
    half.mkdir()
    (half / MODEL_FILE).write_bytes(b"half")
    for path in (tmp_path, half, tmp_path / "missing"):
        with pytest.raises(FileNotFoundError, match="no checkpoint at"):
            resolve_checkpoint(path, fs=fs)


def test_file_uris_work_without_spark_and_other_schemes_need_it(tmp_path):
    trainer = trained()
    path = save_checkpoint(tmp_path.as_uri(), trainer.model, trainer.optimizer, trainer_dict(5))
    assert path == resolve_checkpoint(tmp_path) == tmp_path / "checkpoint-5"
    assert load_checkpoint(f"file:{tmp_path}", trainer.model, trainer.optimizer) == trainer_dict(5)
    for call in (lambda: save_checkpoint("hdfs://namenode:8020/runs/a", trainer.model, trainer.optimizer,
                                         trainer_dict(5)),
                 lambda: resolve_checkpoint("s3a://bucket/runs/a")):
        with pytest.raises(ValueError, match="a SparkSession is needed"):
            call()
