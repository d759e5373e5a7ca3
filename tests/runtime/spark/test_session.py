"""init_spark: settings that training jobs rely on, visible inside the Python workers; local masters retry tasks."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bigdl_runtime.spark import init_spark
from bigdl_runtime.spark.session import with_task_retries

ROOT = Path(__file__).resolve().parents[3]


def test_session_settings(spark) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2,4]"
    assert conf.get("spark.locality.wait") == "0s"
    assert conf.get("spark.python.worker.reuse") == "true"
    assert conf.get("spark.executorEnv.OPENBLAS_NUM_THREADS") == "1"
    assert conf.get("spark.python.worker.faulthandler.enabled") == "true"
    assert conf.get("spark.sql.execution.arrow.maxBytesPerBatch") == "8m"


def test_a_local_jvm_runs_the_parallel_collector(spark) -> None:
    """The local master's JVM was started with the throughput collector (not G1, whose concurrent cycles cost
    image caching a quarter of the JVM's CPU)."""
    beans = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    names = {beans.get(i).getName() for i in range(beans.size())}
    assert names == {"PS Scavenge", "PS MarkSweep"}
    assert spark.sparkContext.getConf().get("spark.driver.extraJavaOptions").endswith("-XX:+UseParallelGC")


def test_workers_reach_the_jvm_through_unix_sockets(spark) -> None:
    """The Python workers' daemon listens on a Unix socket, not loopback TCP (a short job ~40 ms faster)."""
    seen = spark.sparkContext.parallelize(range(2), 2).map(
        lambda _: os.environ.get("PYTHON_UNIX_DOMAIN_ENABLED", "").lower()).collect()
    assert seen == ["true", "true"]


def test_workers_get_the_blas_thread_limit(spark) -> None:
    seen = spark.sparkContext.parallelize(range(4), 2).map(
        lambda _: (os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS"))).collect()
    assert set(seen) == {("1", "1")}


def test_a_running_session_is_returned_as_it_is(spark, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="bigdl_runtime.spark.session"):
        same = init_spark("local[3]", conf={"spark.sql.shuffle.partitions": "3", "spark.locality.wait": "0s"})
    assert same is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "8"  # the running session's, not the call's
    assert [r.getMessage() for r in caplog.records] == [
        "init_spark: a SparkSession is already running and is returned as it is; not applied: master 'local[3]' "
        "(running: 'local[2,4]'); spark.sql.shuffle.partitions='3' (running: '8')"]


def test_cores_per_task_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cores_per_task must be >= 1"):
        init_spark(cores_per_task=0)


@pytest.mark.parametrize("master, attempts, expected", [
    ("local", 4, "local[1,4]"), ("local[*]", 4, "local[*,4]"), ("local[3]", 4, "local[3,4]"),
    ("local[2]", 2, "local[2,2]"), ("local[2,1]", 4, "local[2,1]"), ("local[*, 3]", 4, "local[*, 3]"),
    ("spark://127.0.0.1:7077", 4, "spark://127.0.0.1:7077"), ("yarn", 4, "yarn"),
    ("local-cluster[2,1,1024]", 4, "local-cluster[2,1,1024]")])
def test_local_masters_get_task_retries(master, attempts, expected) -> None:
    assert with_task_retries(master, attempts) == expected


# A new SparkContext cannot share a process with the session-wide fixture: this runs in a subprocess.
CHILD = """
import json, os, sys
from pyspark import TaskContext
from bigdl_runtime.spark import init_spark

def fail_once(rows):
    if TaskContext.get().partitionId() == 0 and TaskContext.get().attemptNumber() == 0:
        raise RuntimeError("first attempt fails")
    return [sum(rows)]

spark = init_spark()                                   # no master given: local[*] with retries
out = {"default": spark.sparkContext.master,
       "sums": spark.sparkContext.parallelize(range(10), 2).mapPartitions(fail_once).collect(),
       "workers run the driver's python": spark.sparkContext.parallelize(range(2), 2).map(
           lambda _: sys.executable).collect() == [sys.executable] * 2,
       "environment left as it was": "PYSPARK_PYTHON" not in os.environ}
spark.stop()
spark = init_spark("local[2]", conf={"spark.task.maxFailures": 2, "spark.sql.execution.arrow.maxBytesPerBatch": "1m"})
out["local[2] with maxFailures 2"] = spark.sparkContext.master
out["arrow batch bytes"] = spark.conf.get("spark.sql.execution.arrow.maxBytesPerBatch")
spark.stop()
print("RESULT " + json.dumps(out))
"""


def test_the_default_master_reruns_a_failed_task() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYSPARK_PYTHON"}
    proc = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**env, "SPARK_LOCAL_IP": "127.0.0.1"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert out == {"default": "local[*,4]", "sums": [10, 35], "local[2] with maxFailures 2": "local[2,2]",
                   "arrow batch bytes": "1m", "workers run the driver's python": True,
                   "environment left as it was": True}                     # the user's conf wins
