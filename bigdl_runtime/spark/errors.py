"""Errors of Spark jobs, shown on the driver as what happened instead of a Java stack.

Two kinds of failure reach the driver wrapped in Spark's exceptions (a
``Py4JJavaError`` whose text holds the Java stack and the worker's Python
traceback, or PySpark's ``PythonException``):

* A task's own error. Task functions wrapped with :func:`tagged` put the
  original error's type and message between markers; :func:`worker_errors`
  finds them and raises the original type (ValueError, TypeError; anything
  else as RuntimeError) with the original message, so users see e.g.
  ``ValueError: batch_norm: training needs more than one value per channel,
  got input (1, 8)`` instead of a Java stack wrapping a worker traceback.
* The job itself failed: a Python worker crashed or was killed, an executor
  was lost, a task failed as many times as Spark allows, a barrier stage lost a
  task, shuffle data was lost, the job was cancelled. :func:`worker_errors`
  raises a :class:`SparkJobError` that says so in one or two lines (stage,
  task, attempts, cause), with Spark's exception chained for the details.

Anything else passes through unchanged.
"""
from __future__ import annotations

import contextlib
import functools
import re
import signal
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_OPEN, _CLOSE = "<<bigdl-task-error ", " bigdl-task-error>>"
_FOUND = re.compile(re.escape(_OPEN) + r"(\w+): (.*?)" + re.escape(_CLOSE), re.DOTALL)
_KEEP_TYPE = {"ValueError": ValueError, "TypeError": TypeError}

#: causes longer than this are cut (the chained exception keeps the whole text)
MAX_CAUSE = 240


class TaskError(Exception):
    """What a tagged task raises: the original error's type and message between markers."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{_OPEN}{type(original).__name__}: {original}{_CLOSE}")


class SparkJobError(RuntimeError):
    """A Spark job failed: what happened, where, and after how many attempts.

    Raised by :func:`worker_errors` instead of Spark's own exception, which is
    chained (``__cause__``) and holds the Java stack and any Python traceback.

    Attributes:
        cause: what went wrong, in a line (e.g. ``"Python worker exited
            unexpectedly (crashed) ..."``, ``"executor 1 lost ..."``,
            ``"a Python task raised KeyError: 'x'"``).
        stage: the failed stage, as Spark names it: ``"3.0"`` (stage 3, attempt 0)
            for a task failure, ``"3"`` for a stage failure; None if unknown.
        task: the task's index in its stage (the partition, for a job over all
            partitions, as every training job is); None if unknown.
        partition: the partition, when Spark names it (barrier tasks); else None.
        attempts: how many times the task (or, for a stage failure, the stage)
            failed before Spark gave up; None if unknown.
        executor, host: where the last failed attempt ran, if known.
        barrier: True if a barrier (gang) stage failed.
    """

    def __init__(self, cause: str, *, stage: str | None = None, task: int | None = None,
                 partition: int | None = None, attempts: int | None = None, executor: str | None = None,
                 host: str | None = None, barrier: bool = False) -> None:
        self.cause, self.stage, self.task, self.partition = cause, stage, task, partition
        self.attempts, self.executor, self.host, self.barrier = attempts, executor, host, barrier
        super().__init__(self._message())

    def _message(self) -> str:
        if self.barrier and self.partition is not None:
            where = f"the barrier task of partition {self.partition} in stage {self.stage}"
        elif self.task is not None:
            where = f"task {self.task} of stage {self.stage}"
        elif self.stage is not None:
            where = f"{'barrier ' if self.barrier else ''}stage {self.stage}"
        else:
            where = ""
        if self.executor is not None:
            where += f" on executor {self.executor}" + (f" ({self.host})" if self.host else "")
        text = f"Spark job failed{' in ' + where if where else ''}: {self.cause}"
        if self.attempts is not None and self.task is not None and not self.barrier:
            text += (f".\nThe task failed {self.attempts} time{'s' if self.attempts != 1 else ''}; Spark gives up "
                     "after spark.task.maxFailures failures of one task (F of a local[N,F] master; init_spark() "
                     "sets 4 for local masters).")
        elif self.attempts is not None:
            text += (f".\nThe stage failed {self.attempts} times; Spark gives up after "
                     "spark.stage.maxConsecutiveAttempts failed attempts of one stage.")
        elif self.barrier:
            text += (".\nA barrier stage fails as a whole when one of its tasks fails, and Spark does not retry "
                     "a barrier result stage.")
        return text


def tagged(fn: F) -> F:
    """Wrap a task function (a generator or a plain function) so its errors are tagged."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = fn(*args, **kwargs)
            # task functions return iterators that Spark drains after we return; drain here instead
            return list(result) if isinstance(result, Iterator) else result
        except Exception as err:
            raise TaskError(err) from err

    return wrapper  # type: ignore[return-value]


def streamed(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
    """:func:`tagged` for a task that yields a partition's records (or Arrow batches).

    The records stream out one by one instead of being collected in a list
    first, so a partition never has to fit in the Python worker's memory.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
        try:
            yield from fn(*args, **kwargs)
        except Exception as err:
            raise TaskError(err) from err

    return wrapper


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """Around Spark actions: a tagged task error is re-raised as itself, a failed job as :class:`SparkJobError`.

    Examples:
        >>> with worker_errors():
        ...     rdd.map(work).collect()   # a killed Python worker -> SparkJobError
    """
    try:
        yield
    except SparkJobError:
        raise
    except Exception as err:
        text = str(err)
        found = _FOUND.search(text)
        if found is not None:
            kind, message = found.group(1), found.group(2)
            if kind in _KEEP_TYPE:
                raise _KEEP_TYPE[kind](message) from None
            raise RuntimeError(f"{kind} in a Spark task: {message}") from None
        origin = type(err).__module__
        if not origin.startswith(("py4j", "pyspark")):
            raise
        job_error = job_failure(text, python_error=type(err).__name__ == "PythonException")
        if job_error is None:
            raise
        raise job_error from err


# ------------------------------------------------------------ reading Spark's messages
_NUM = r"(\d+)"
_TASK_FAILED = re.compile(  # TaskSetManager: a task used up its attempts
    r"Task (\d+) in stage (\S+) failed (\d+) times?, most recent failure: Lost task \S+ in stage \S+ "
    r"\(TID \d+(?:, ([^,)]+))?(?:, executor ([^)]+))?\)(?: \((\S+) executor ([^)]+)\))?: (.*)", re.DOTALL)
_BARRIER = re.compile(
    r"barrier task \w+\((\d+), (\d+)\) finished unsuccessfully\.\s*(.*)", re.DOTALL)
_STAGE_ATTEMPTS = re.compile(
    r"\w*Stage (\d+) \(.*?\)\s+has failed the maximum allowable number of\s+times: (\d+)\.?\s+"
    r"Most recent failure reason:\s*(.*)", re.DOTALL)
_CANCELLED = re.compile(r"Job (\d+) cancelled ?(.*)")
_ABORTED = re.compile(r"Job aborted due to stage failure: (.*)", re.DOTALL)
_CRASHED = re.compile(r"Python worker exited unexpectedly \(crashed\)(.*)", re.DOTALL)
_EXECUTOR_LOST = re.compile(r"ExecutorLostFailure \(executor (\S+) ([^)]*)\)(?: Reason: (.*))?", re.DOTALL)
_FAULT = re.compile(r"(Fatal Python error: [^\n]+)(?:.*?\n\s*File \"([^\"]+)\", line (\d+) in (\S+))?", re.DOTALL)
_PY_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b.*)$", re.MULTILINE)


def job_failure(text: str, python_error: bool = False) -> SparkJobError | None:
    """The :class:`SparkJobError` that Spark's error text ``text`` describes, or None if it is no job failure.

    Args:
        text: ``str()`` of the exception raised by a Spark action.
        python_error: the exception is PySpark's ``PythonException`` (a task raised
            an untagged Python error; Spark's job details are not in its text).
    """
    text = text.split("\nDriver stacktrace:")[0]
    barrier = _BARRIER.search(text)
    if barrier is not None:
        stage, partition, reason = barrier.groups()
        limit = _STAGE_ATTEMPTS.search(text)
        return SparkJobError(_cause(reason), stage=stage, partition=int(partition), barrier=True,
                             attempts=int(limit.group(2)) if limit else None)
    task = _TASK_FAILED.search(text)
    if task is not None:
        index, stage, failures, old_host, old_executor, host, executor, reason = task.groups()
        return SparkJobError(_cause(reason), stage=stage, task=int(index), attempts=int(failures),
                             executor=executor or old_executor, host=host or old_host)
    limit = _STAGE_ATTEMPTS.search(text)
    if limit is not None:
        stage, attempts, reason = limit.groups()
        return SparkJobError(_cause(reason), stage=stage, attempts=int(attempts))
    cancelled = _CANCELLED.search(text)
    if cancelled is not None:
        return SparkJobError(f"job {cancelled.group(1)} cancelled {_first_line(cancelled.group(2))}".rstrip())
    aborted = _ABORTED.search(text)
    if aborted is not None:
        return SparkJobError(_cause(aborted.group(1)))
    if python_error or "Traceback (most recent call last)" in text and "PythonException" in text:
        return SparkJobError(_cause(text))
    return None


def _cause(reason: str) -> str:
    """One line saying why a task (or stage) failed, from Spark's failure reason text."""
    crashed = _CRASHED.search(reason)
    if crashed is not None:
        fault = _FAULT.search(crashed.group(1))
        if fault is None:
            return ("Python worker exited unexpectedly (crashed), without a Python error: killed by a signal "
                    "(SIGKILL, the out-of-memory killer) or died in native code")
        cause = f"Python worker exited unexpectedly (crashed): {fault.group(1).strip()}"
        if fault.group(2):
            cause += f", in {fault.group(4)} ({fault.group(2)}, line {fault.group(3)})"
        return cause
    lost = _EXECUTOR_LOST.search(reason)
    if lost is not None:
        executor, how, why = lost.groups()
        detail = how if not why else f"{how}: {_first_line(why)}"
        code = re.search(r"exited with code (\d+)", detail)
        if code is not None and 128 < int(code.group(1)) < 128 + signal.NSIG:
            with contextlib.suppress(ValueError):
                detail += f", i.e. killed by {signal.Signals(int(code.group(1)) - 128).name}"
        return _cut(f"executor {executor} lost ({detail})")
    if "Traceback (most recent call last)" in reason:
        after = reason.split("Traceback (most recent call last)", 1)[1]
        raised = _PY_ERROR_LINE.findall(after)
        if raised:
            return _cut(f"a Python task raised {raised[-1].strip()}")
    if "FetchFailed" in reason:
        return _cut(f"shuffle data lost (the executor that wrote it died?): {_first_line(reason)}")
    return _cut(_first_line(reason) or "unknown reason")


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        line = line.strip()
        if line:
            return re.sub(r"^org\.apache\.spark\.SparkException: ", "", line)
    return ""


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CAUSE else text[:MAX_CAUSE - 3] + "..."
