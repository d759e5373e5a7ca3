"""The runtime's seeded random generator (initializers, dropout, data shuffling).

``rng()`` is the generator layers draw from: the process's own (``manual_seed(s)`` makes a script
reproducible), or, while a trainer fits, the run's generator, which the trainer installs with :func:`using`
and carries in its state (checkpoints store it, so a resumed run draws the same numbers as an uninterrupted
one). A fit therefore leaves the process's generator as it found it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Replace the process's generator by one seeded with ``seed``."""
    global _rng
    _rng = np.random.default_rng(seed)


def rng() -> np.random.Generator:
    """The generator to draw from now."""
    return _rng


@contextmanager
def using(generator: np.random.Generator) -> Iterator[np.random.Generator]:
    """Make ``generator`` the one :func:`rng` returns until the block ends (then the previous one is back)."""
    global _rng
    previous, _rng = _rng, generator
    try:
        yield generator
    finally:
        _rng = previous


def get_state() -> dict[str, Any]:
    """The bit generator state of :func:`rng` (JSON-able)."""
    return _rng.bit_generator.state


def set_state(state: dict[str, Any]) -> None:
    """Restore :func:`rng` to a state from :func:`get_state`."""
    _rng.bit_generator.state = state
