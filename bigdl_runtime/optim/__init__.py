"""Optimizers, learning-rate schedules, gradient clipping and regularizers."""
from .adam import Adam, AdamW
from .adaptive import Adadelta, Adagrad, RMSprop
from .clipping import clip_grad_norm, clip_grad_value
from .optimizer import Optimizer
from .regularizers import L1, L2, L1L2, set_regularizer
from .schedules import (Cosine, Exponential, MultiStep, Polynomial, ReduceLROnPlateau, Schedule, Step,
                        Warmup)
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "RMSprop",
           "Schedule", "Step", "MultiStep", "Exponential", "Polynomial", "Cosine", "Warmup", "ReduceLROnPlateau",
           "clip_grad_norm", "clip_grad_value", "L1", "L2", "L1L2", "set_regularizer"]
