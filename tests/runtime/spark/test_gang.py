"""Gang mode: one barrier stage trains the whole fit with the same weights as LocalTrainer and as the
per-iteration mode; validation, summaries and checkpoints inside the gang; a killed task's gang restarts
from the newest checkpoint and ends bit-identical to an uninterrupted run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bigdl_runtime.nn import LSTM, BatchNorm1d, Linear, ReLU, Sequential, random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import SGD, Adam
from bigdl_runtime.spark.trainer import DistributedTrainer
from bigdl_runtime.spark.worker import FAIL_ONCE, KILL_ONCE
from bigdl_runtime.train import LocalTrainer, SeveralIteration, load_checkpoint, read_summary

from ..train.test_trainer import blobs
from .test_trainer import FIT, TIGHT, assert_same_state

ROOT = Path(__file__).resolve().parents[3]


def build(kind: str, seed: int = 0):
    """A small model of ``kind`` ("mlp", "batchnorm", "lstm") with fixed initial weights, and its optimizer."""
    random.manual_seed(seed)
    if kind == "lstm":
        model = Sequential(LSTM(4, 6, return_sequences=False), Linear(6, 3))
        return model, Adam(model.parameters(), lr=0.01)
    middle = [BatchNorm1d(8)] if kind == "batchnorm" else []
    model = Sequential(Linear(4, 8), *middle, ReLU(), Linear(8, 3))
    return model, SGD(model.parameters(), lr=0.1, momentum=0.9)


def data(kind: str):
    """50 samples (batch norm: 96, so every task's share of a batch of 16 has several samples)."""
    x, y = blobs(96 if kind == "batchnorm" else 50)
    if kind == "lstm":   # three noisy time steps of the same point
        x = np.stack([x + 0.1 * k for k in range(3)], axis=1).astype(np.float32)
    return x, y


def fit(spark, kind: str, mode: str, partitions: int, seed: int = 0, compress: str | None = None,
        transport: str = "auto", **fit_kwargs):
    model, optimizer = build(kind, seed)
    trainer = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, num_partitions=partitions, mode=mode,
                                 compress=compress, transport=transport)
    return trainer, trainer.fit(*data(kind), **{**FIT, **fit_kwargs})


def local_fit(kind: str, **fit_kwargs):
    model, optimizer = build(kind)
    trainer = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    return trainer, trainer.fit(*data(kind), **{**FIT, **fit_kwargs})


@pytest.mark.parametrize("kind, partitions", [("mlp", 1), ("mlp", 2), ("lstm", 1), ("lstm", 2), ("batchnorm", 1)])
def test_gang_trains_the_same_weights_as_local_trainer(spark, kind, partitions):
    local, local_history = local_fit(kind)
    trainer, history = fit(spark, kind, "gang", partitions)
    assert_same_state(trainer.model, local.model, **TIGHT)
    np.testing.assert_allclose([r["loss"] for r in history.train], [r["loss"] for r in local_history.train],
                               rtol=1e-5)
    assert history.state.iteration == FIT["iterations"]
    assert history.state.epoch == local_history.state.epoch and history.state.records == local_history.state.records
    # the caller's optimizer continues where the gang left it: its state is the merged shards
    expected = local.optimizer.state_dict()
    got = trainer.optimizer.state_dict()
    assert got.keys() == expected.keys()
    for key, value in got.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_allclose(value, expected[key], err_msg=key, **TIGHT)
        else:
            assert value == expected[key], key


@pytest.mark.parametrize("kind, compress", [("batchnorm", None), ("lstm", None), ("mlp", "fp16")])
def test_gang_and_per_iteration_jobs_give_bit_identical_weights(spark, kind, compress):
    gang, gang_history = fit(spark, kind, "gang", 2, compress=compress)
    jobs, jobs_history = fit(spark, kind, "iteration", 2, compress=compress)
    assert_same_state(gang.model, jobs.model)        # running statistics included, exactly
    assert [r["loss"] for r in gang_history.train] == [r["loss"] for r in jobs_history.train]


@pytest.mark.parametrize("kind, compress", [("batchnorm", None), ("mlp", "fp16")])
def test_shared_memory_and_tcp_transports_give_bit_identical_weights(spark, kind, compress):
    shared, shared_history = fit(spark, kind, "gang", 2, compress=compress, transport="shared-memory")
    tcp, tcp_history = fit(spark, kind, "gang", 2, compress=compress, transport="tcp")
    assert_same_state(shared.model, tcp.model)
    assert [r["loss"] for r in shared_history.train] == [r["loss"] for r in tcp_history.train]


def test_five_tasks_in_both_modes_match_local_trainer(tmp_path):
    """N = 5 needs five task slots: its own local[5] session in a subprocess."""
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, "-m", "tests.helpers.gang_five", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert sorted(result) == ["batchnorm", "lstm", "mlp"]
    for kind, diffs in result.items():
        assert diffs["gang_vs_iteration"] == 0.0, (kind, diffs)
        if kind == "batchnorm":  # each task normalises its share of the batch (BigDL's semantics): not local's
            assert diffs["gang_vs_local"] > 1e-3, (kind, diffs)
        else:
            assert diffs["gang_vs_local"] < 1e-5, (kind, diffs)
            assert diffs["iteration_vs_local"] < 1e-5, (kind, diffs)


def test_validation_summaries_and_checkpoints_inside_the_gang(spark, tmp_path, capsys):
    x, y = data("mlp")
    xv, yv = blobs(30, seed=4)
    common = {"validation": (xv, yv), "metrics": ("top1", "loss"), "validation_trigger": SeveralIteration(2),
              "iterations": 6}
    jobs, jobs_history = fit(spark, "mlp", "iteration", 2, **common)
    model, optimizer = build("mlp")
    trainer = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, num_partitions=2, mode="gang")
    history = trainer.fit(x, y, **{**FIT, **common, "progress": True, "summary": tmp_path / "rows.jsonl",
                                   "checkpoint": tmp_path / "ckpt", "checkpoint_trigger": SeveralIteration(4)})
    assert [r["iteration"] for r in history.validation] == [2, 4, 6]
    for ours, theirs in zip(history.validation, jobs_history.validation):
        assert ours["top1"] == theirs["top1"]
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-6)
    summary = read_summary(tmp_path / "rows.jsonl")
    assert [r["iteration"] for r in summary.train] == [1, 2, 3, 4, 5, 6]
    assert [r["loss"] for r in summary.train] == [r["loss"] for r in history.train]
    assert all(r["compute_time"] > 0 and r["sync_time"] > 0 for r in summary.train)
    assert len(summary.validation) == 3
    err = capsys.readouterr().err
    assert "validation at epoch 1 iteration 2: top1" in err and "compute" in err and "sync" in err
    # the gang's checkpoint is an ordinary one: LocalTrainer resumes from it to the per-iteration result
    assert (tmp_path / "ckpt" / "checkpoint-4" / "model.bigdl").is_file()
    local_model, local_optimizer = build("mlp", seed=7)
    local = LocalTrainer(local_model, CrossEntropyLoss(), local_optimizer)
    local.fit(x, y, **{**FIT, "iterations": 6}, resume_from=tmp_path / "ckpt")
    assert_same_state(local.model, jobs.model, **TIGHT)


@pytest.mark.parametrize("hook", [KILL_ONCE, FAIL_ONCE])
def test_a_lost_task_restarts_the_gang_from_the_last_checkpoint(spark, tmp_path, hook, capsys):
    uninterrupted, _ = fit(spark, "batchnorm", "gang", 2, iterations=6)
    sc = spark.sparkContext
    sc.setLocalProperty(hook, "5:1")          # rank 1 dies in iteration 5, after the checkpoint at 4
    try:
        trainer, history = fit(spark, "batchnorm", "gang", 2, iterations=6, checkpoint=tmp_path,
                               checkpoint_trigger=SeveralIteration(2), progress=True)
    finally:
        sc.setLocalProperty(hook, None)
    assert_same_state(trainer.model, uninterrupted.model)
    assert [r["iteration"] for r in history.train] == [1, 2, 3, 4, 5, 6]
    err = capsys.readouterr().err
    assert "restarting it from the newest checkpoint (" in err and "checkpoint-4)" in err
    assert err.count("iteration 1/6") == 1 and err.count("iteration 5/6") == 1   # resumed at 5, not from 1
    restored, optimizer = build("batchnorm", seed=3)
    assert load_checkpoint(tmp_path, restored, optimizer)["state"]["iteration"] == 6


def test_gang_needs_all_its_tasks_at_once(spark):
    with pytest.raises(ValueError, match=r"gang mode runs its 3 tasks at once, but the master 'local\[2,4\]' has 2"):
        fit(spark, "mlp", "gang", 3)


def test_a_restarted_driver_resumes_a_gang_fit_from_its_checkpoint(spark, tmp_path):
    uninterrupted, full_history = fit(spark, "mlp", "gang", 2, iterations=6)
    fit(spark, "mlp", "gang", 2, iterations=3, checkpoint=tmp_path.as_uri(), checkpoint_trigger=SeveralIteration(3))
    resumed, history = fit(spark, "mlp", "gang", 2, seed=9, iterations=6, resume_from=tmp_path.as_uri())
    assert_same_state(resumed.model, uninterrupted.model)
    assert [r["loss"] for r in history.train] == [r["loss"] for r in full_history.train]


def test_slice_owners_write_their_optimizer_shards_into_the_checkpoint(spark, tmp_path):
    trainer, _ = fit(spark, "mlp", "gang", 2, iterations=4, checkpoint=tmp_path, checkpoint_trigger=SeveralIteration(4))
    written = sorted(p.name for p in (tmp_path / "checkpoint-4").iterdir())
    assert written == ["model.bigdl", "optimizer-0-of-2.bigdl", "optimizer-1-of-2.bigdl", "state.bigdl"]
    model, optimizer = build("mlp", seed=5)
    load_checkpoint(tmp_path, model, optimizer)        # the shards put back together
    assert_same_state(model, trainer.model)
    for key, value in trainer.optimizer.state_dict().items():
        np.testing.assert_array_equal(np.asarray(optimizer.state_dict()[key]), np.asarray(value), err_msg=key)
    (tmp_path / "checkpoint-4" / "optimizer-1-of-2.bigdl").unlink()
    with pytest.raises(ValueError, match="the optimizer shard optimizer-1-of-2.bigdl is missing"):
        load_checkpoint(tmp_path, model, optimizer)
