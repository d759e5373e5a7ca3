"""init_spark: a SparkSession tuned for many short, synchronous training jobs."""
from __future__ import annotations

import logging
import os
import re
import sys
from contextlib import contextmanager
from typing import Any, Iterator

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

#: Environment variables that cap the BLAS/OpenMP threads of a Python worker.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
#: Attempts per task on a local master (Spark's default ``spark.task.maxFailures`` on clusters).
LOCAL_TASK_ATTEMPTS = 4
#: Largest Arrow batch crossing to a Python worker (init_spark sets 8m unless the user's conf sets it).
ARROW_BATCH_BYTES = "spark.sql.execution.arrow.maxBytesPerBatch"
#: Python workers reach their JVM through Unix domain sockets (Spark >= 4.1), not loopback TCP
UNIX_SOCKETS = "spark.python.unix.domain.socket.enabled"
#: JVM options of a local master's one JVM (driver and executor): init_spark picks the throughput collector
DRIVER_JAVA_OPTIONS = "spark.driver.extraJavaOptions"
LOCAL_JVM_GC = "-XX:+UseParallelGC"
_LOCAL = re.compile(r"local(?:\[(\*|\d+)\])?")

logger = logging.getLogger(__name__)


def init_spark(master: str | None = None, app_name: str = "bigdl", cores_per_task: int = 1,
               conf: dict[str, Any] | None = None) -> SparkSession:
    """Create a SparkSession for training and inference, or return the running one as it is.

    A session that is already running (the user's, or one this function made) is returned unchanged: its
    settings and log level stay as they are, and what this call asks for that differs from them is logged
    as a warning. A new session gets the settings below and log level WARN.

    Args:
        master: any Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``,
            ``k8s://...``); default ``local[*]``, or what ``spark-submit`` set.
            A local master gets task retries: ``local``, ``local[N]`` and
            ``local[*]`` become ``local[N,4]`` (4 attempts per task, as on a
            cluster; ``conf={"spark.task.maxFailures": F}`` sets another count),
            so a failed task or a killed Python worker is re-run instead of
            failing the job. An explicit ``local[N,F]`` is kept as given.
        app_name: the application name shown by the cluster manager.
        cores_per_task: cores one task may use; each Python worker limits its BLAS
            threads to this (``spark.task.cpus`` is set to match), so N tasks on N
            cores do not oversubscribe the machine.
        conf: extra Spark settings, applied last (they win).

    Short-job settings: no console progress bar (the trainer prints its own),
    no locality wait (a task runs on the first free core instead of waiting
    for its cached block's executor), few shuffle partitions for DataFrame
    work, Python workers reused so the per-worker model cache survives
    between iterations, and Arrow for DataFrame <-> numpy conversion, in
    batches of at most 8 MB (``spark.sql.execution.arrow.maxBytesPerBatch``,
    unless ``conf`` or spark-submit sets it; Spark's default is far larger, and
    larger batches cost the JVM about twice the CPU when scoring).
    Python's fault handler is on in the workers, so a worker that crashes in
    native code reports where (see :class:`~bigdl_runtime.spark.errors.SparkJobError`).
    Python workers talk to their JVM over Unix domain sockets instead of
    loopback TCP (:data:`UNIX_SOCKETS`, PySpark >= 4.1; older versions ignore
    it): over TCP every Python task waited tens of milliseconds for its input,
    which made up most of a short job (a job of two empty Python tasks on
    ``local[2]``, median on idle cores: 84-89 ms over TCP, 39 ms over Unix
    sockets; ``scripts/bench_distributed.py``'s ``empty jobs``).
    A local master's JVM (driver and executor in one) runs the parallel (throughput) garbage collector
    (:data:`LOCAL_JVM_GC`, unless ``conf`` or spark-submit sets ``spark.driver.extraJavaOptions``, or the
    JVM is already running): caching decoded images allocates many multi-MB column buffers, and with
    the default G1 collector each such allocation above its occupancy threshold started a concurrent
    marking cycle (138 in four 2,000-photo reads); the JVM's CPU per warm read fell from 3.9-4.4 to
    2.7-3.3 s (``scripts/bench_image_ingest_spark.py``'s reads, load 4-6), scoring was unchanged.

    Examples:
        >>> spark = init_spark("local[2]")
        >>> spark = init_spark("spark://10.0.0.5:7077", cores_per_task=4)
    """
    if cores_per_task < 1:
        raise ValueError(f"cores_per_task must be >= 1, got {cores_per_task}")
    if SparkContext._active_spark_context is not None:  # a running context: its session, options untouched
        running = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        _report_differences(running, master, conf or {})
        return running
    settings: dict[str, str] = {
        "spark.app.name": app_name,
        "spark.task.cpus": str(cores_per_task),
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.locality.wait": "0s",
        "spark.sql.shuffle.partitions": "8",
        "spark.python.worker.reuse": "true",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        ARROW_BATCH_BYTES: "8m",
        "spark.python.worker.faulthandler.enabled": "true",
        UNIX_SOCKETS: "true",
        "spark.driver.memory": os.environ.get("BIGDL_DRIVER_MEMORY", "4g"),
    }
    for var in THREAD_VARS:
        settings[f"spark.executorEnv.{var}"] = str(cores_per_task)
    settings.update({k: str(v) for k, v in (conf or {}).items()})
    spark_conf = SparkConf()
    if master is None:
        master = spark_conf.get("spark.master", "local[*]")
    attempts = settings.get("spark.task.maxFailures", spark_conf.get("spark.task.maxFailures", None))
    spark_conf.setMaster(with_task_retries(master, int(attempts or LOCAL_TASK_ATTEMPTS)))
    if spark_conf.contains(ARROW_BATCH_BYTES) and ARROW_BATCH_BYTES not in (conf or {}):
        del settings[ARROW_BATCH_BYTES]      # set by spark-submit or spark-defaults.conf: theirs
    if (master.strip().startswith("local") and DRIVER_JAVA_OPTIONS not in settings
            and not spark_conf.contains(DRIVER_JAVA_OPTIONS)):
        settings[DRIVER_JAVA_OPTIONS] = LOCAL_JVM_GC
    for key, value in settings.items():
        spark_conf.set(key, value)
    with _workers_run_this_python():
        session = SparkSession.builder.config(conf=spark_conf).getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


@contextmanager
def _workers_run_this_python() -> Iterator[None]:
    """Python workers run the driver's interpreter (same numpy, protobuf and this package), not whatever
    ``python3`` is first on the PATH, unless ``PYSPARK_PYTHON`` says otherwise. PySpark reads that variable
    (not ``spark.pyspark.python``) once, as the context starts: it is set for that moment only, so the
    process environment is left as it was."""
    if "PYSPARK_PYTHON" in os.environ:
        yield
        return
    os.environ["PYSPARK_PYTHON"] = sys.executable
    try:
        yield
    finally:
        del os.environ["PYSPARK_PYTHON"]


def _report_differences(running: SparkSession, master: str | None, conf: dict[str, Any]) -> None:
    """Log, as a warning, the master and settings asked for that the running session does not have."""
    context = running.sparkContext
    differ = []
    if master is not None and context.master not in (master, with_task_retries(master)):
        differ.append(f"master {master!r} (running: {context.master!r})")
    current = context.getConf()
    for key, value in conf.items():
        have = current.get(key, None) or running.conf.get(key, None)
        if have != str(value):
            differ.append(f"{key}={value!r} (running: {have!r})")
    if differ:
        logger.warning("init_spark: a SparkSession is already running and is returned as it is; not applied: %s",
                       "; ".join(differ))


def with_task_retries(master: str, attempts: int = LOCAL_TASK_ATTEMPTS) -> str:
    """``master`` with ``attempts`` tries per task if it is a local master without its own count.

    Spark runs a task once on ``local[N]`` (it ignores ``spark.task.maxFailures``
    there); ``local[N,F]`` allows F attempts. Other masters are returned as given.

    Examples:
        >>> with_task_retries("local[*]")
        'local[*,4]'
        >>> with_task_retries("local")
        'local[1,4]'
        >>> with_task_retries("local[2,1]"), with_task_retries("yarn")
        ('local[2,1]', 'yarn')
    """
    if attempts < 1:
        raise ValueError(f"attempts per task must be >= 1, got {attempts}")
    found = _LOCAL.fullmatch(master.strip())
    if found is None:
        return master
    return f"local[{found.group(1) or 1},{attempts}]"
