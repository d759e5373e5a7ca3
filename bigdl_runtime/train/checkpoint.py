"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint directory holds one sub-directory per checkpoint plus a pointer::

    <directory>/checkpoint-<iteration>/model.bigdl   the model file (save_model): usable on its own
    <directory>/checkpoint-<iteration>/state.bigdl   optimizer state and trainer state (save_state)
    <directory>/latest                              name of the newest complete checkpoint

A checkpoint is written into a temporary directory that is renamed into place
once complete, then ``latest`` is replaced atomically, so a crash at any point
leaves the previous checkpoint valid. Older checkpoints are removed after
``latest`` moves on (only the newest is kept).

The trainer state (iteration, epoch, position in the epoch's permutation,
shuffling seed, RNG state, summaries so far) is stored as one JSON string, so
Python ints of any size (the RNG state) and ``None``/NaN survive unchanged.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..nn.module import Module
from ..serialization import load_model, load_state, save_model, save_state

FORMAT = "bigdl-checkpoint-v1"
MODEL_FILE = "model.bigdl"
STATE_FILE = "state.bigdl"
LATEST = "latest"


def save_checkpoint(directory: str | os.PathLike, model: Module, optimizer: Any,
                    trainer: dict[str, Any]) -> Path:
    """Write a checkpoint of ``model``, ``optimizer`` and the JSON-able ``trainer`` dict.

    ``trainer["state"]["iteration"]`` names the checkpoint. Returns its directory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"checkpoint-{int(trainer['state']['iteration'])}"
    final, suffix = directory / name, 1
    while final.exists():  # a re-run over the same iteration never overwrites a checkpoint in place
        final, suffix = directory / f"{name}.{suffix}", suffix + 1
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=directory))
    try:
        save_model(model, str(tmp / MODEL_FILE))
        save_state(str(tmp / STATE_FILE), {"format": FORMAT, "optimizer": optimizer.state_dict(),
                                           "trainer": json.dumps(trainer)})
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pointer = directory / f".{LATEST}.tmp"
    pointer.write_text(final.name + "\n", encoding="utf-8")
    os.replace(pointer, directory / LATEST)
    for old in directory.glob("checkpoint-*"):
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint directory for ``path``: a checkpoint itself, or a directory with ``latest``."""
    path = Path(path)
    if (path / LATEST).is_file():
        path = path / (path / LATEST).read_text(encoding="utf-8").strip()
    if not (path / STATE_FILE).is_file() or not (path / MODEL_FILE).is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: expected {MODEL_FILE} and {STATE_FILE} "
                                f"(or a '{LATEST}' file naming a checkpoint directory)")
    return path


def load_checkpoint(path: str | os.PathLike, model: Module, optimizer: Any) -> dict[str, Any]:
    """Restore ``model`` weights and ``optimizer`` state in place; return the trainer dict."""
    path = resolve_checkpoint(path)
    state = load_state(str(path / STATE_FILE))
    if state.get("format") != FORMAT:
        raise ValueError(f"{path / STATE_FILE}: not a {FORMAT} checkpoint (format {state.get('format')!r})")
    model.load_state_dict(load_model(str(path / MODEL_FILE)).state_dict())
    optimizer.load_state_dict(state["optimizer"])
    return json.loads(state["trainer"])
