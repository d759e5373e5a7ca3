"""The runtime's one seeded random generator (initializers, dropout, data shuffling).

``manual_seed(s)`` makes a whole run reproducible; trainers call it with their
``seed`` and save ``get_state()`` in checkpoints so a resumed run draws the same
numbers as an uninterrupted one.
"""
from __future__ import annotations

from typing import Any

import numpy as np

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    return _rng


def get_state() -> dict[str, Any]:
    return _rng.bit_generator.state


def set_state(state: dict[str, Any]) -> None:
    _rng.bit_generator.state = state
