"""TextRecord: one text on its way from raw text to an id sequence."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class TextRecord:
    """One text on its way to an id sequence.

    Attributes:
        text: the raw text.
        label: class index or None.
        source: file path or row (``row 3``, or ``partition 1, row 3`` for a DataFrame's row), for error messages.
        tokens: after :meth:`TextSet.tokenize`.
        ids: after :meth:`TextSet.to_sequences`, int64 ``(length,)``.
    """

    text: str
    label: int | None = None
    source: str | None = None
    tokens: list[str] | None = None
    ids: np.ndarray | None = None
