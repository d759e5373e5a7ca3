"""Spark side of the runtime: the session, the distributed trainer, checkpoints on Hadoop paths."""
from .session import init_spark
from .trainer import DistributedTrainer

__all__ = ["DistributedTrainer", "init_spark"]
