"""Run a check in a forked child process, with a time limit (a hung child fails the test instead of hanging it)."""
from __future__ import annotations

import os
import select
import signal
from typing import Callable

import pytest


def run_forked(child: Callable[[], bool], timeout: float = 60.0) -> bool:
    """``child()`` run in a forked process: whether it returned True (False if it raised). A child still
    running after ``timeout`` seconds is killed and fails the test."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(write, b"1" if child() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], timeout)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"the forked child hung for {timeout} s")
        return os.read(read, 1) == b"1"
    finally:
        os.waitpid(pid, 0)
        os.close(read)
