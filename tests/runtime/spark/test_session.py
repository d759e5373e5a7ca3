"""init_spark: settings that training jobs rely on, visible inside the Python workers."""
from __future__ import annotations

import os

import pytest

from bigdl_runtime.spark import init_spark


def test_session_settings(spark) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2,4]"
    assert conf.get("spark.locality.wait") == "0s"
    assert conf.get("spark.python.worker.reuse") == "true"
    assert conf.get("spark.executorEnv.OPENBLAS_NUM_THREADS") == "1"


def test_workers_get_the_blas_thread_limit(spark) -> None:
    seen = spark.sparkContext.parallelize(range(4), 2).map(
        lambda _: (os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS"))).collect()
    assert set(seen) == {("1", "1")}


def test_cores_per_task_must_be_positive() -> None:
    with pytest.raises(ValueError, match="cores_per_task must be >= 1"):
        init_spark(cores_per_task=0)
