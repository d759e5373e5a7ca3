"""Errors raised inside Spark tasks, shown on the driver as the plain Python error they were.

A failing task reaches the driver as a Py4JJavaError whose text holds the Java
stack and the worker's Python traceback. Task functions wrapped with
:func:`tagged` put the original error's type and message between markers;
:func:`worker_errors` finds them in the driver-side exception and raises the
original type (ValueError, TypeError; anything else as RuntimeError) with the
original message, so users see e.g. ``ValueError: batch_norm: training needs
more than one value per channel, got input (1, 8)`` instead of a Java stack
wrapping a worker traceback.
"""
from __future__ import annotations

import contextlib
import functools
import re
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_OPEN, _CLOSE = "<<bigdl-task-error ", " bigdl-task-error>>"
_FOUND = re.compile(re.escape(_OPEN) + r"(\w+): (.*?)" + re.escape(_CLOSE), re.DOTALL)
_KEEP_TYPE = {"ValueError": ValueError, "TypeError": TypeError}


class TaskError(Exception):
    """What a tagged task raises: the original error's type and message between markers."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(f"{_OPEN}{type(original).__name__}: {original}{_CLOSE}")


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


@contextlib.contextmanager
def worker_errors() -> Iterator[None]:
    """Re-raise a failed Spark job's tagged task error as its original type and message."""
    try:
        yield
    except Exception as err:
        found = _FOUND.search(str(err))
        if found is None:
            raise
        kind, message = found.group(1), found.group(2)
        if kind in _KEEP_TYPE:
            raise _KEEP_TYPE[kind](message) from None
        raise RuntimeError(f"{kind} in a Spark task: {message}") from None
