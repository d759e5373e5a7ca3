"""Spark side of the runtime: the session, the distributed trainer, checkpoints on Hadoop paths."""
from .errors import SparkJobError
from .session import init_spark
from .trainer import DistributedTrainer

__all__ = ["DistributedTrainer", "SparkJobError", "init_spark"]
