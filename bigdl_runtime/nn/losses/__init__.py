"""Losses: modules with ``forward(output, target) -> float`` and ``backward(output, target) -> grad``."""
from .base import Loss
from .binary import BCELoss, BCEWithLogitsLoss, MultiLabelSoftMarginLoss
from .classification import CrossEntropyLoss, NLLLoss
from .regression import L1Loss, MSELoss, SmoothL1Loss

__all__ = ["Loss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "L1Loss", "MSELoss",
           "MultiLabelSoftMarginLoss", "NLLLoss", "SmoothL1Loss"]
