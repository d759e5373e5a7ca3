"""Training summaries: one JSON object per line, readable without the runtime.

Two kinds of rows share the file, told apart by ``"kind"``:

- ``"train"``: ``iteration, epoch, loss, lr, throughput`` (samples/s of that
  iteration) and ``wall_time`` (seconds of training so far), one per iteration;
- ``"validation"``: ``iteration, epoch`` and one value per metric (``top1``, ...).

Plotting needs nothing but the file::

    s = read_summary("runs/summary.jsonl")
    it, loss = s.series("loss")
    it_v, acc = s.series("top1", kind="validation")
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .triggers import TrainState


@dataclass
class Summary:
    """Rows of a summary file, by kind."""

    train: list[dict[str, Any]] = field(default_factory=list)
    validation: list[dict[str, Any]] = field(default_factory=list)

    def series(self, key: str, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """``(iterations, values)`` of one column, for plotting."""
        rows = [r for r in getattr(self, kind) if key in r]
        return (np.array([r["iteration"] for r in rows], dtype=np.int64),
                np.array([r[key] for r in rows], dtype=np.float64))


@dataclass
class History(Summary):
    """What ``fit`` returns: the summary rows (``train``, ``validation``) and the final ``state``."""

    state: TrainState = field(default_factory=TrainState)

    @property
    def last_validation(self) -> dict[str, Any] | None:
        return self.validation[-1] if self.validation else None


class SummaryWriter:
    """Writes rows to a JSON-lines file, one flushed line per row.

    The file (and its parent directory) is created, or truncated if it exists.

    Args:
        path: the file to write.
        start: rows to write first (a resumed run rewrites the rows saved in
            its checkpoint, dropping any written after the checkpoint).
    """

    def __init__(self, path: str | os.PathLike, start: Summary | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8")
        if start is not None:
            for row in start.train:
                self._write({"kind": "train", **row})
            for row in start.validation:
                self._write({"kind": "validation", **row})
            self._file.flush()

    def add_train(self, row: dict[str, Any]) -> None:
        self._write({"kind": "train", **row})
        self._file.flush()

    def add_validation(self, row: dict[str, Any]) -> None:
        self._write({"kind": "validation", **row})
        self._file.flush()

    def _write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, allow_nan=True) + "\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def read_summary(path: str | os.PathLike) -> Summary:
    """Read a summary file written by :class:`SummaryWriter`."""
    summary = Summary()
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                kind = row.pop("kind")
            except (json.JSONDecodeError, KeyError) as err:
                raise ValueError(f"{path}:{number}: not a summary row ({err})") from err
            if kind not in ("train", "validation"):
                raise ValueError(f"{path}:{number}: unknown row kind '{kind}'")
            getattr(summary, kind).append(row)
    return summary
