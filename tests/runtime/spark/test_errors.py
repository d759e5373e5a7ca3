"""errors: Spark's failure texts become one clear SparkJobError; tagged task errors stay themselves.

The texts below have the form Spark 4 printed for real failures (killed and segfaulted Python workers and a
failed barrier task on local masters; an executor JVM SIGKILLed on a standalone cluster), with other ids and
counts; the shuffle one follows Spark's source. A real killed worker is in test_faults.py.
"""
from __future__ import annotations

import pytest

from bigdl_runtime.spark.errors import SparkJobError, TaskError, job_failure, worker_errors

JAVA = "An error occurred while calling z:org.apache.spark.api.python.PythonRDD.collectAndServe.\n: "
STACK = "\n\tat org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2935)\n"
KILLED = (JAVA + "org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 7.0 failed 1 "
          "times, most recent failure: Lost task 1.0 in stage 7.0 (TID 13) (192.0.2.2 executor driver): "
          "org.apache.spark.SparkException: Python worker exited unexpectedly (crashed): \n\n"
          "Caused by: java.io.EOFException\n\t... 22 more\n\nDriver stacktrace:" + STACK)
SEGFAULT = (JAVA + "org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 2.0 failed 4 "
            "times, most recent failure: Lost task 0.3 in stage 2.0 (TID 5) (10.0.0.7 executor 3): "
            "org.apache.spark.SparkException: Python worker exited unexpectedly (crashed): Fatal Python error: "
            "Segmentation fault\n\nCurrent thread 0x00007f1ab528bb80 (most recent call first):\n"
            '  File "/usr/lib/python3.11/ctypes/__init__.py", line 519 in string_at\n'
            '  File "/job/model.py", line 12 in forward\n\nDriver stacktrace:' + STACK)
NO_FAULTHANDLER = (JAVA + "org.apache.spark.SparkException: Job aborted due to stage failure: Task 3 in stage 0.0 "
                   "failed 1 times, most recent failure: Lost task 3.0 in stage 0.0 (TID 3) (host-a executor driver): "
                   "org.apache.spark.SparkException: Python worker exited unexpectedly (crashed). Consider setting "
                   "'spark.sql.execution.pyspark.udf.faulthandler.enabled' or'spark.python.worker.faulthandler."
                   "enabled' configuration to 'true' for the better Python traceback.\nCaused by: "
                   "java.io.EOFException\n\nDriver stacktrace:" + STACK)
EXECUTOR_LOST = (JAVA + "org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage 12.0 "
                 "failed 4 times, most recent failure: Lost task 1.3 in stage 12.0 (TID 40) (127.0.0.1 executor 2): "
                 "ExecutorLostFailure (executor 2 exited caused by one of the running tasks) Reason: Command exited "
                 "with code 137\nDriver stacktrace:" + STACK)
BARRIER = (JAVA + "org.apache.spark.SparkException: Job aborted due to stage failure: Could not recover from a failed "
           "barrier ResultStage. Most recent failure reason: Stage failed because barrier task ResultTask(5, 1) "
           "finished unsuccessfully.\norg.apache.spark.api.python.PythonException: [PYTHON_EXCEPTION] An exception "
           "was thrown from the Python worker: Traceback (most recent call last):\n  File \"/job/gang.py\", line 13, "
           "in run\n    raise ConnectionResetError(\"peer 0 closed\")\nConnectionResetError: peer 0 closed\n "
           "SQLSTATE: 38000" + STACK)
SHUFFLE = (JAVA + "org.apache.spark.SparkException: Job aborted due to stage failure: ResultStage 9 (collect at "
           "NativeMethodAccessorImpl.java:0) has failed the maximum allowable number of times: 4. Most recent "
           "failure reason:\norg.apache.spark.shuffle.FetchFailedException: Failed to connect to /127.0.0.1:41234"
           + STACK)
CANCELLED = JAVA + "org.apache.spark.SparkException: Job 4 cancelled because SparkContext was shut down" + STACK
PYTHON = ("An exception was thrown from the Python worker:\nTraceback (most recent call last):\n"
          '  File "/job/read.py", line 13, in f\n    raise KeyError("nope")\nKeyError: \'nope\'')


def test_a_killed_python_worker_without_retries() -> None:
    err = job_failure(KILLED)
    assert (err.stage, err.task, err.attempts, err.executor, err.host) == ("7.0", 1, 1, "driver", "192.0.2.2")
    assert str(err).splitlines() == [
        "Spark job failed in task 1 of stage 7.0 on executor driver (192.0.2.2): Python worker exited unexpectedly "
        "(crashed), without a Python error: killed by a signal (SIGKILL, the out-of-memory killer) or died in "
        "native code.",
        "The task failed 1 time; Spark gives up after spark.task.maxFailures failures of one task (F of a "
        "local[N,F] master; init_spark() sets 4 for local masters)."]
    assert isinstance(err, RuntimeError)


def test_a_native_crash_names_the_fault_and_the_innermost_python_frame() -> None:
    err = job_failure(SEGFAULT)
    assert (err.stage, err.task, err.attempts, err.executor, err.host) == ("2.0", 0, 4, "3", "10.0.0.7")
    assert err.cause == ("Python worker exited unexpectedly (crashed): Fatal Python error: Segmentation fault, "
                         "in string_at (/usr/lib/python3.11/ctypes/__init__.py, line 519)")
    assert "The task failed 4 times" in str(err)


def test_a_crash_without_the_fault_handler() -> None:
    err = job_failure(NO_FAULTHANDLER)
    assert err.cause.startswith("Python worker exited unexpectedly (crashed), without a Python error")
    assert (err.task, err.stage, err.host) == (3, "0.0", "host-a")


def test_a_lost_executor() -> None:
    err = job_failure(EXECUTOR_LOST)
    assert err.cause == ("executor 2 lost (exited caused by one of the running tasks: Command exited with code 137, "
                         "i.e. killed by SIGKILL)")
    assert (err.stage, err.task, err.attempts, err.executor) == ("12.0", 1, 4, "2")
    assert str(err).startswith("Spark job failed in task 1 of stage 12.0 on executor 2 (127.0.0.1): executor 2 lost")


def test_a_failed_barrier_stage() -> None:
    err = job_failure(BARRIER)
    assert (err.barrier, err.stage, err.partition, err.attempts) == (True, "5", 1, None)
    assert str(err).splitlines() == [
        "Spark job failed in the barrier task of partition 1 in stage 5: a Python task raised "
        "ConnectionResetError: peer 0 closed.",
        "A barrier stage fails as a whole when one of its tasks fails, and Spark does not retry a barrier "
        "result stage."]


def test_a_stage_that_lost_its_shuffle_input_too_often() -> None:
    err = job_failure(SHUFFLE)
    assert (err.stage, err.task, err.attempts) == ("9", None, 4)
    assert err.cause.startswith("shuffle data lost")
    assert "FetchFailedException: Failed to connect to /127.0.0.1:41234" in err.cause
    assert "The stage failed 4 times" in str(err)


def test_a_cancelled_job_and_an_untagged_python_error() -> None:
    assert str(job_failure(CANCELLED)) == "Spark job failed: job 4 cancelled because SparkContext was shut down"
    assert job_failure(PYTHON, python_error=True).cause == "a Python task raised KeyError: 'nope'"


def test_other_errors_are_no_job_failures() -> None:
    assert job_failure("An error occurred while calling o41.textFile.\n: java.io.FileNotFoundException: x") is None
    assert job_failure("nothing to see") is None


class Py4JJavaError(Exception):
    """Stands in for py4j's exception (whose str() needs a JVM): the same module and name."""

    __module__ = "py4j.protocol"


def test_worker_errors_raises_a_spark_job_error_chained_to_sparks() -> None:
    original = Py4JJavaError(KILLED)
    with pytest.raises(SparkJobError, match=r"^Spark job failed in task 1 of stage 7\.0") as caught:
        with worker_errors():
            raise original
    assert caught.value.__cause__ is original


def test_worker_errors_keeps_tagged_errors_and_passes_other_errors_through() -> None:
    tagged = Py4JJavaError(KILLED.replace("Python worker exited", str(TaskError(ValueError("bad label")))))
    with pytest.raises(ValueError, match=r"^bad label$"):
        with worker_errors():
            raise tagged
    driver_side = RuntimeError(KILLED)  # not raised by Spark: not translated, even with Spark's text
    with pytest.raises(RuntimeError) as caught:
        with worker_errors():
            raise driver_side
    assert caught.value is driver_side
