"""Spark side of the runtime: the session, the distributed trainer, checkpoints on Hadoop paths."""
from .session import init_spark

__all__ = ["init_spark"]
