"""Local training: LocalTrainer, triggers, metrics, summaries, progress and checkpoints."""
from .checkpoint import load_checkpoint, resolve_checkpoint, save_checkpoint
from .metrics import AUC, MAE, BinaryAccuracy, Loss, Metric, Top1Accuracy, TopKAccuracy, get_metric
from .progress import Progress
from .summary import Summary, SummaryWriter, read_summary
from .trainer import History, LocalTrainer, TrainingLoop, end_trigger_for, forward_backward
from .triggers import (And, EveryEpoch, MaxEpoch, MaxIteration, MaxScore, MinLoss, Or, SeveralIteration,
                       TrainState, Trigger)

__all__ = [
    "AUC", "MAE", "And", "BinaryAccuracy", "EveryEpoch", "History", "LocalTrainer", "Loss", "MaxEpoch",
    "MaxIteration", "MaxScore", "Metric", "MinLoss", "Or", "Progress", "SeveralIteration", "Summary",
    "SummaryWriter", "Top1Accuracy", "TopKAccuracy", "TrainState", "TrainingLoop", "Trigger",
    "end_trigger_for", "forward_backward", "get_metric", "load_checkpoint", "read_summary",
    "resolve_checkpoint", "save_checkpoint",
]
