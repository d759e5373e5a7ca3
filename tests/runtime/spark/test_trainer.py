"""DistributedTrainer: the same weights as LocalTrainer for 1, 2, 3 and 5 partitions, driver sum = shuffle, fp16 close,
DataFrame / Vector / RDD input, batch-norm statistics, validation, timings, evaluate and predict; per-iteration
bytes read follow the batch, not the dataset (counted in Spark's task metrics)."""
from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import numpy as np
import pytest

from bigdl_runtime.nn import BatchNorm1d, Dropout, Linear, ReLU, Sequential, random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import SGD
from bigdl_runtime.serialization import model_to_bytes
from bigdl_runtime.spark import worker
from bigdl_runtime.spark.trainer import DistributedTrainer
from bigdl_runtime.train import LocalTrainer, read_summary

from ..train.test_trainer import blobs
from .test_data import job_stages

# 50 samples in batches of 16: iterations 1-3 take 16 samples, iteration 4 takes 2 (samples 22 and 19:
# with 3 partitions two of them have none), iteration 5 starts epoch 2 and its new permutation
FIT = {"batch_size": 16, "iterations": 5, "seed": 3, "progress": False}
TIGHT = {"rtol": 1e-5, "atol": 1e-6}


def make(batchnorm: bool = False, dropout: float = 0.0, seed: int = 0) -> tuple[Sequential, SGD]:
    """A small MLP with fixed initial weights, and SGD with momentum on its parameters."""
    random.manual_seed(seed)
    middle = [BatchNorm1d(8)] if batchnorm else [Dropout(dropout)] if dropout else []
    model = Sequential(Linear(4, 8), *middle, ReLU(), Linear(8, 3))
    return model, SGD(model.parameters(), lr=0.1, momentum=0.9)


def local_run(x, y, iterations: int = FIT["iterations"], **kwargs):
    model, optimizer = make(**kwargs)
    trainer = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    return trainer, trainer.fit(x, y, **{**FIT, "iterations": iterations})


def distributed(spark, data, y=None, make_kwargs=None, fit_kwargs=None, **trainer_kwargs):
    model, optimizer = make(**(make_kwargs or {}))
    trainer = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark,
                                 **{"mode": "iteration", **trainer_kwargs})
    return trainer, trainer.fit(data, y, **{**FIT, **(fit_kwargs or {})})


def assert_same_state(a, b, **tolerance) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        np.testing.assert_allclose(sa[key], sb[key], err_msg=key, **(tolerance or {"rtol": 0, "atol": 0}))


@pytest.mark.parametrize("partitions, sync", [(1, "auto"), (2, "auto"), (3, "auto"), (5, "auto"), (2, "shuffle"),
                                              (3, "shuffle"), (5, "driver")])
def test_same_weights_and_losses_as_local_trainer(spark, partitions, sync):
    x, y = blobs(50)
    local, local_history = local_run(x, y)
    trainer, history = distributed(spark, x, y, num_partitions=partitions, sync=sync)
    assert_same_state(trainer.model, local.model, **TIGHT)
    np.testing.assert_allclose([r["loss"] for r in history.train], [r["loss"] for r in local_history.train],
                               rtol=1e-5)
    progress = ("iteration", "epoch", "records", "epoch_records", "epoch_finished")
    assert [getattr(history.state, k) for k in progress] == [getattr(local_history.state, k) for k in progress]


def test_per_iteration_bytes_read_do_not_depend_on_the_dataset_size(spark):
    """Bytes each iteration's job reads (Spark's input + shuffle-read task metrics), on 256 and 1,024 samples.

    Only the first iteration of an epoch reads the training blocks (the epoch layout's map stage: the whole
    dataset, once); every other iteration reads its batch's shuffle blocks, the same bytes on both datasets.
    (When each task unpickled its whole cached partition every iteration, every job read the dataset.)
    """
    sc = spark.sparkContext
    batch_size, iterations, row_bytes = 32, 10, 64 * 4
    reads: dict[str, dict[int, list[int]]] = {"epoch start": {}, "other": {}}
    try:
        for n in (256, 1024):
            rng = np.random.default_rng(n)
            x, y = rng.standard_normal((n, 64)).astype(np.float32), rng.integers(0, 3, n)
            random.manual_seed(0)
            model = Sequential(Linear(64, 3))
            trainer = DistributedTrainer(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), spark,
                                         num_partitions=2, sync="driver", mode="iteration")
            sc.setJobGroup(f"bytes-{n}", f"training on {n} samples")
            trainer.fit(x, y, batch_size=batch_size, iterations=iterations, seed=0, progress=False)
            jobs = job_stages(spark, f"bytes-{n}")
            assert len(jobs) > iterations                      # building the blocks, then one job per iteration
            for i, stages in enumerate(jobs[-iterations:]):
                run = [s for s in stages if s[0] != "SKIPPED"]
                assert run[-1][1] == 2                         # N training tasks
                kind = "epoch start" if i % (n // batch_size) == 0 else "other"
                reads[kind].setdefault(n, []).append(sum(s[2] + s[3] for s in run))  # input + shuffle read
    finally:
        sc.setLocalProperty("spark.jobGroup.id", None)
    small, big = (np.mean(reads["other"][n]) for n in (256, 1024))
    assert batch_size * row_bytes <= small < 1.5 * batch_size * row_bytes, reads   # the batch, ids and framing
    assert abs(big - small) < 0.05 * small, reads
    assert len(reads["epoch start"][256]) == 2 and len(reads["epoch start"][1024]) == 1
    assert all(b > n * row_bytes for n, found in reads["epoch start"].items() for b in found), reads


def test_driver_sum_equals_shuffle_and_fp16_is_close_but_not_equal(spark):
    x, y = blobs(50)
    three = {"iterations": 3}
    shuffle, _ = distributed(spark, x, y, num_partitions=3, sync="shuffle", fit_kwargs=three)
    driver, _ = distributed(spark, x, y, num_partitions=3, sync="driver", fit_kwargs=three)
    assert_same_state(driver.model, shuffle.model)
    for sync in ("shuffle", "driver"):
        fp16, _ = distributed(spark, x, y, num_partitions=3, sync=sync, compress="fp16", fit_kwargs=three)
        assert_same_state(fp16.model, shuffle.model, rtol=0, atol=2e-3)
        compressed, exact = fp16.model.state_dict(), shuffle.model.state_dict()
        assert any(not np.array_equal(compressed[key], exact[key]) for key in exact)


def test_auto_sync_sums_on_the_driver_on_few_partitions_and_through_the_shuffle_beyond(spark):
    from bigdl_runtime.spark.trainer import DRIVER_SUM_MAX_PARTITIONS

    model, optimizer = make()
    auto = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark)
    assert auto.sync_mode(1) == auto.sync_mode(DRIVER_SUM_MAX_PARTITIONS) == "driver"
    assert auto.sync_mode(DRIVER_SUM_MAX_PARTITIONS + 1) == "shuffle"
    fixed = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, sync="shuffle")
    assert fixed.sync_mode(1) == "shuffle"
    with pytest.raises(ValueError, match="sync must be one of"):
        DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, sync="tree")


def test_dataframe_vector_column_and_rdd_inputs_train_like_numpy(spark):
    from pyspark.ml.linalg import Vectors

    x, y = blobs(50)
    local, _ = local_run(x, y, iterations=2)
    arrays = spark.createDataFrame([(a.tolist(), int(b)) for a, b in zip(x, y)], ["features", "label"])
    vectors = spark.createDataFrame([(Vectors.dense(a), float(b)) for a, b in zip(x, y)], ["v", "class"])
    pairs = spark.sparkContext.parallelize(list(zip(x, y.tolist())), 4)
    for data, columns in ((arrays, {}), (vectors, {"features_col": "v", "label_col": "class"}), (pairs, {})):
        trainer, _ = distributed(spark, data, num_partitions=2, fit_kwargs={"iterations": 2, **columns})
        assert_same_state(trainer.model, local.model, **TIGHT)


def test_batchnorm_running_statistics_come_back_to_the_driver(spark):
    x, y = blobs(50)
    local, _ = local_run(x, y, batchnorm=True)
    one, _ = distributed(spark, x, y, num_partitions=1, make_kwargs={"batchnorm": True})
    assert_same_state(one.model, local.model, **TIGHT)          # one partition sees the whole batch
    # two partitions: iterations of 16 samples only (batch norm needs > 1 sample per partition)
    two, _ = distributed(spark, x, y, num_partitions=2, make_kwargs={"batchnorm": True},
                         fit_kwargs={"iterations": 3})
    local_three, _ = local_run(x, y, iterations=3, batchnorm=True)
    mean = two.model[1].running_mean                                   # averaged per-partition statistics
    np.testing.assert_allclose(mean, local_three.model[1].running_mean, rtol=0.2, atol=0.05)
    assert not np.allclose(mean, local_three.model[1].running_mean, rtol=1e-5, atol=1e-6)


def test_validation_summary_rows_and_progress_show_the_timing_split(spark, tmp_path, capsys):
    x, y = blobs(50)
    xv, yv = blobs(30, seed=1)
    trainer, history = distributed(spark, x, y, num_partitions=2, fit_kwargs={
        "validation": (xv, yv), "metrics": ("top1", "loss"), "summary": tmp_path / "s.jsonl", "progress": True})
    assert [r["iteration"] for r in history.validation] == [4]          # every epoch (4 iterations)
    rows = read_summary(tmp_path / "s.jsonl").train
    assert rows == history.train and len(rows) == 5
    for row in rows:
        assert all(row[k] >= 0.0 for k in ("compute_time", "sync_time", "schedule_time"))
        assert row["compute_time"] + row["sync_time"] + row["schedule_time"] <= row["wall_time"]
    err = capsys.readouterr().err
    assert "compute " in err and " ms  sync " in err and "scheduling " in err
    assert "validation at epoch 1 iteration 4: top1" in err


def test_evaluate_and_predict_equal_local_in_evaluation_mode(spark):
    x, y = blobs(23)
    model, optimizer = make(dropout=0.5)
    local = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    trainer = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark)
    rows = spark.sparkContext.parallelize([(a.tolist(), int(b)) for a, b in zip(x, y)], 3)
    df = spark.createDataFrame(rows, ["features", "label"])
    expected = local.evaluate(x, y, metrics=("top1", "top2", "loss"), batch_size=5)
    got = trainer.evaluate(df, metrics=("top1", "top2", "loss"), batch_size=5)
    assert got.keys() == expected.keys()
    assert got == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(trainer.predict(df, batch_size=4), local.predict(x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(trainer.predict(x), local.predict(x), rtol=1e-6, atol=1e-7)
    assert model.training


def test_worker_builds_a_replica_once_per_run_and_keeps_the_newest():
    model, _ = make()
    shipped = SimpleNamespace(value=(model_to_bytes(model), model_to_bytes(CrossEntropyLoss())))
    runs = [worker.RunSpec(f"run-{i}", shipped) for i in range(3)]
    first = worker.replica(runs[0])
    assert worker.replica(runs[0]) is first
    np.testing.assert_array_equal(first.flat_w, np.concatenate([p.data.ravel() for p in model.parameters()]))
    worker.replica(runs[1])
    worker.replica(runs[2])                               # only MAX_REPLICAS = 2 are kept: run-0 is evicted
    assert worker.replica(runs[0]) is not first


def test_a_new_replica_freezes_the_workers_objects_and_an_evicted_one_is_freed():
    """PySpark's per-task gc.collect() skips what a worker holds for long (frozen), and eviction still frees."""
    model, _ = make()
    shipped = SimpleNamespace(value=(model_to_bytes(model), None))
    gc.unfreeze()
    try:
        first = worker.replica(worker.RunSpec("freeze-0", shipped))
        assert not any(o is first.model for o in gc.get_objects())    # frozen: outside every collected generation
        gone = weakref.ref(first.model)
        del first
        for i in range(1, worker.MAX_REPLICAS + 1):
            worker.replica(worker.RunSpec(f"freeze-{i}", shipped))
        assert gone() is None                                 # evicted: unfrozen and collected
        newest = worker.replica(worker.RunSpec(f"freeze-{worker.MAX_REPLICAS}", shipped))
        assert not any(o is newest.model for o in gc.get_objects())   # the newest replicas are frozen again
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("kwargs, match", [
    ({"sync": "ring"}, "sync must be one of"),
    ({"compress": "int8"}, "compress must be one of"),
    ({"num_partitions": -1}, "num_partitions must be >= 1"),
    ({"mode": "async"}, r"mode must be one of \('iteration', 'gang'\)"),
])
def test_bad_trainer_arguments(spark, kwargs, match):
    model, optimizer = make()
    with pytest.raises(ValueError, match=match):
        DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, **kwargs)
    other_model, _ = make()
    with pytest.raises(ValueError, match="optimizer must update the model's parameters"):
        DistributedTrainer(other_model, CrossEntropyLoss(), optimizer, spark)


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size must be >= 1"),
    ({"validation": "val.csv"}, "validation must be a DataFrame"),
    ({"y": np.zeros(3)}, "50 input samples but y has shape"),
])
def test_bad_fit_arguments(spark, kwargs, match):
    x, y = blobs(50)
    model, optimizer = make()
    args = {"y": y, **FIT, **kwargs}
    with pytest.raises(ValueError, match=match):
        DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark).fit(x, args.pop("y"), **args)
