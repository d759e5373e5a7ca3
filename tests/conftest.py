"""Shared fixtures: seeded randomness and the one session-scoped SparkSession."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def spark() -> Iterator["pyspark.sql.SparkSession"]:  # noqa: F821
    """One local SparkSession for the whole test session (per xdist worker).

    ``local[2,4]``: two task threads, and up to 4 attempts per task so the
    fault-injection tests can watch Spark retry a failed task.
    """
    from bigdl_runtime.spark import init_spark

    session = init_spark(master="local[2,4]", app_name="bigdl-tests")
    yield session
    session.stop()
