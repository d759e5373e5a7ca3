"""Faults: failed tasks and killed Python workers are retried by Spark without changing the result (and
without retries a killed worker fails the fit with a clear SparkJobError); a restarted driver resumes
from a checkpoint to the uninterrupted weights; bad data fails cleanly and leaves the checkpoint."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.spark.trainer import DistributedTrainer
from bigdl_runtime.spark.worker import FAIL_ONCE, KILL_ONCE
from bigdl_runtime.train import SeveralIteration, load_checkpoint

from ..train.test_trainer import blobs
from .test_trainer import assert_same_state, make

ROOT = Path(__file__).resolve().parents[3]
# dropout on: retries and resumes must also reproduce every task's random mask
FIT = {"batch_size": 16, "iterations": 6, "seed": 5, "progress": False}


def trainer_for(spark, seed: int = 0) -> DistributedTrainer:
    model, optimizer = make(dropout=0.3, seed=seed)
    return DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, num_partitions=2, mode="iteration")


@pytest.fixture(scope="module")
def uninterrupted(spark):
    x, y = blobs(50)
    trainer = trainer_for(spark)
    return trainer, trainer.fit(x, y, **FIT)


def failed_tasks(spark, group: str) -> int:
    tracker = spark.sparkContext.statusTracker()
    stages = [s for job in tracker.getJobIdsForGroup(group) for s in tracker.getJobInfo(job).stageIds]
    return sum(tracker.getStageInfo(s).numFailedTasks for s in stages if tracker.getStageInfo(s) is not None)


def fit_with_hook(spark, hook: str, where: str, group: str) -> tuple[DistributedTrainer, object, int]:
    """A fit with the test hook ``hook`` set to ``where``; the trainer, its history and the failed task count."""
    x, y = blobs(50)
    sc = spark.sparkContext
    sc.setJobGroup(group, f"test hook {hook}={where}")
    sc.setLocalProperty(hook, where)
    try:
        trainer = trainer_for(spark)
        history = trainer.fit(x, y, **FIT)
    finally:
        sc.setLocalProperty(hook, None)
        sc.setLocalProperty("spark.jobGroup.id", None)
    return trainer, history, failed_tasks(spark, group)


def test_failed_tasks_are_retried_and_change_nothing(spark, uninterrupted):
    trainer, history, failed = fit_with_hook(spark, FAIL_ONCE, "2:0,5:1", "fault-injection")
    assert failed == 2
    assert_same_state(trainer.model, uninterrupted[0].model)
    assert [r["loss"] for r in history.train] == [r["loss"] for r in uninterrupted[1].train]


def test_a_killed_python_worker_is_replaced_and_changes_nothing(spark, uninterrupted):
    # iteration 3, partition 1: os.kill(getpid(), SIGKILL) during the first attempt
    trainer, history, failed = fit_with_hook(spark, KILL_ONCE, "3:1", "worker-kill")
    assert failed == 1    # the killed attempt; a new worker ran the retry
    assert_same_state(trainer.model, uninterrupted[0].model)
    assert [r["loss"] for r in history.train] == [r["loss"] for r in uninterrupted[1].train]


# local[2,1] (no task retries) needs its own SparkContext, which cannot share a process with the fixture's.
NO_RETRIES = """
import json
from bigdl_runtime.spark import init_spark
from bigdl_runtime.spark.errors import SparkJobError
from bigdl_runtime.spark.worker import KILL_ONCE
from tests.runtime.spark.test_faults import FIT, trainer_for
from tests.runtime.train.test_trainer import blobs

spark = init_spark("local[2,1]", app_name="bigdl-no-retries")
spark.sparkContext.setLocalProperty(KILL_ONCE, "2:0")
out = {"master": spark.sparkContext.master}
try:
    trainer_for(spark).fit(*blobs(50), **FIT)
except SparkJobError as err:
    out.update(message=str(err), stage=err.stage, task=err.task, attempts=err.attempts,
               chained=type(err.__cause__).__name__)
spark.stop()
print("RESULT " + json.dumps(out))
"""


def test_without_retries_a_killed_worker_fails_the_fit_with_a_clear_error():
    proc = subprocess.run([sys.executable, "-c", NO_RETRIES], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out["master"] == "local[2,1]"                # an explicit attempt count is kept
    assert (out["task"], out["attempts"], out["chained"]) == (0, 1, "Py4JJavaError")
    first, second = out["message"].splitlines()
    assert re.fullmatch(rf"Spark job failed in task 0 of stage {out['stage']} on executor driver \([^)]+\): "
                        r"Python worker exited unexpectedly \(crashed\), without a Python error: killed by a "
                        r"signal \(SIGKILL, the out-of-memory killer\) or died in native code\.", first), first
    assert second.startswith("The task failed 1 time; Spark gives up after spark.task.maxFailures failures")


def test_restarted_driver_resumes_to_the_uninterrupted_weights(spark, uninterrupted, tmp_path):
    x, y = blobs(50)
    uri = tmp_path.as_uri()                           # file://...: through Hadoop's FileSystem, like hdfs://
    first = trainer_for(spark)
    first.fit(x, y, checkpoint=uri, checkpoint_trigger=SeveralIteration(3), **{**FIT, "iterations": 3})
    assert (tmp_path / "checkpoint-3" / "model.bigdl").is_file()
    resumed = trainer_for(spark, seed=9)              # a new driver: new model object, other initial weights
    history = resumed.fit(x, y, resume_from=uri, **FIT)
    assert_same_state(resumed.model, uninterrupted[0].model)
    assert history.state.iteration == 6
    assert [r["loss"] for r in history.train] == [r["loss"] for r in uninterrupted[1].train]


def test_bad_data_fails_cleanly_and_keeps_the_checkpoint(spark, tmp_path):
    x, y = blobs(50)
    good = trainer_for(spark)
    good.fit(x, y, checkpoint=tmp_path, **{**FIT, "iterations": 2, "checkpoint_trigger": SeveralIteration(2)})
    rows = [(a.tolist(), float(b)) for a, b in zip(x, y)]
    rows[17] = (rows[17][0], float("nan"))
    bad = spark.createDataFrame(rows, "features array<double>, label double")
    with pytest.raises(ValueError, match=r"fit data: row 17, column 'label': label nan is not finite"):
        trainer_for(spark).fit(bad, checkpoint=tmp_path, resume_from=tmp_path, **FIT)
    restored = trainer_for(spark, seed=9)
    trainer_state = load_checkpoint(tmp_path, restored.model, restored.optimizer)
    assert trainer_state["state"]["iteration"] == 2
    assert_same_state(restored.model, good.model)


def test_an_error_in_a_training_task_is_raised_on_the_driver_as_itself(spark):
    x, y = blobs(50)
    model, optimizer = make(batchnorm=True)
    trainer = DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, num_partitions=2, mode="iteration")
    # the first batch (seed 5) is samples 49 and 34: one per partition, too few for batch-norm statistics
    with pytest.raises(ValueError, match=r"^BatchNorm1d: batch_norm: training needs more than one value per channel"):
        trainer.fit(x, y, **{**FIT, "batch_size": 2})
