"""Parameter initializers (xavier, kaiming, normal, uniform, zeros, ones).

Each takes a shape and returns a new float32 array drawn from the runtime's
seeded generator (:mod:`bigdl_runtime.nn.random`). Fan in/out follow PyTorch:
for a weight of shape ``(out, in, *kernel)`` fan_in = in * prod(kernel).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from . import random

Shape = Sequence[int]


def fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped ``(out, in, *kernel)`` or ``(out, in)``."""
    if len(shape) < 2:
        return int(shape[0]), int(shape[0])
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return int(shape[1]) * receptive, int(shape[0]) * receptive


def zeros(shape: Shape, dtype: type = np.float32) -> np.ndarray:
    return np.zeros(shape, dtype=dtype)


def ones(shape: Shape, dtype: type = np.float32) -> np.ndarray:
    return np.ones(shape, dtype=dtype)


def uniform(shape: Shape, low: float = -0.05, high: float = 0.05, dtype: type = np.float32) -> np.ndarray:
    return random.rng().uniform(low, high, size=tuple(shape)).astype(dtype)


def normal(shape: Shape, mean: float = 0.0, std: float = 0.01, dtype: type = np.float32) -> np.ndarray:
    return (mean + std * random.rng().standard_normal(tuple(shape))).astype(dtype)


def xavier_uniform(shape: Shape, gain: float = 1.0, dtype: type = np.float32) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -bound, bound, dtype)


def xavier_normal(shape: Shape, gain: float = 1.0, dtype: type = np.float32) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    return normal(shape, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), dtype)


def kaiming_uniform(shape: Shape, a: float = 0.0, mode: str = "fan_in", dtype: type = np.float32) -> np.ndarray:
    """He uniform; ``a`` is the leaky-relu slope (PyTorch's default layers use ``a=sqrt(5)``)."""
    fan = fans(shape)[0 if mode == "fan_in" else 1]
    bound = math.sqrt(2.0 / (1 + a * a)) * math.sqrt(3.0 / fan)
    return uniform(shape, -bound, bound, dtype)


def kaiming_normal(shape: Shape, a: float = 0.0, mode: str = "fan_in", dtype: type = np.float32) -> np.ndarray:
    fan = fans(shape)[0 if mode == "fan_in" else 1]
    return normal(shape, 0.0, math.sqrt(2.0 / (1 + a * a)) / math.sqrt(fan), dtype)


def default_weight(shape: Shape) -> np.ndarray:
    """PyTorch's default for Linear/Conv weights: kaiming_uniform with a = sqrt(5)."""
    return kaiming_uniform(shape, a=math.sqrt(5))


def default_bias(shape: Shape, fan_in: int) -> np.ndarray:
    """PyTorch's default bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
    return uniform(shape, -bound, bound)
