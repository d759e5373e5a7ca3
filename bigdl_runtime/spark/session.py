"""init_spark: a SparkSession tuned for many short, synchronous training jobs."""
from __future__ import annotations

import os
import sys
from typing import Any

from pyspark import SparkConf
from pyspark.sql import SparkSession

#: Environment variables that cap the BLAS/OpenMP threads of a Python worker.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def init_spark(master: str | None = None, app_name: str = "bigdl", cores_per_task: int = 1,
               conf: dict[str, Any] | None = None) -> SparkSession:
    """Create (or return the running) SparkSession for training and inference.

    Args:
        master: any Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``,
            ``k8s://...``); default ``local[*]``, or what ``spark-submit`` set.
        app_name: the application name shown by the cluster manager.
        cores_per_task: cores one task may use; each Python worker limits its BLAS
            threads to this (``spark.task.cpus`` is set to match), so N tasks on N
            cores do not oversubscribe the machine.
        conf: extra Spark settings, applied last (they win).

    Short-job settings: no console progress bar (the trainer prints its own),
    no locality wait (a task runs on the first free core instead of waiting
    for its cached block's executor), few shuffle partitions for DataFrame
    work, Python workers reused so the per-worker model cache survives
    between iterations, and Arrow for DataFrame <-> numpy conversion.

    Examples:
        >>> spark = init_spark("local[2]")
        >>> spark = init_spark("spark://10.0.0.5:7077", cores_per_task=4)
    """
    if cores_per_task < 1:
        raise ValueError(f"cores_per_task must be >= 1, got {cores_per_task}")
    settings: dict[str, str] = {
        "spark.app.name": app_name,
        "spark.task.cpus": str(cores_per_task),
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.locality.wait": "0s",
        "spark.sql.shuffle.partitions": "8",
        "spark.python.worker.reuse": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.memory": os.environ.get("BIGDL_DRIVER_MEMORY", "4g"),
    }
    for var in THREAD_VARS:
        settings[f"spark.executorEnv.{var}"] = str(cores_per_task)
    # Workers must run the driver's interpreter (same numpy, protobuf and this
    # package), not whatever ``python3`` is first on the PATH; PySpark reads this
    # variable, not ``spark.pyspark.python``, when it starts the context.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings.update({k: str(v) for k, v in (conf or {}).items()})
    spark_conf = SparkConf()
    if master is not None:
        spark_conf.setMaster(master)
    elif not spark_conf.contains("spark.master"):
        spark_conf.setMaster("local[*]")
    for key, value in settings.items():
        spark_conf.set(key, value)
    session = SparkSession.builder.config(conf=spark_conf).getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
