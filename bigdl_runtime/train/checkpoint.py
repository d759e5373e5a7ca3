"""Training checkpoints: everything a run needs to continue exactly where it stopped.

A checkpoint directory holds one sub-directory per checkpoint plus a pointer::

    <directory>/checkpoint-<iteration>/model.bigdl   the model file (model_to_bytes): usable on its own
    <directory>/checkpoint-<iteration>/state.bigdl   optimizer state and trainer state (state_to_bytes)
    <directory>/checkpoint-<iteration>/optimizer-<j>-of-<N>.bigdl
                                                    (gang mode) optimizer shard j, written by its owner;
                                                    state.bigdl then describes the shards
    <directory>/latest                              name of the newest complete checkpoint
    <directory>/.checkpoint-<iteration>.<token>.tmp  a checkpoint being written (or left by a crash)

A re-run over an iteration that already has a checkpoint writes
``checkpoint-<iteration>.1`` (``.2``, ...) instead of touching it.

Everything goes through a :class:`~bigdl_runtime.train.local_fs.FileSystem`:
the local disk by default, any Hadoop-compatible path with
``fs=bigdl_runtime.spark.hadoop_fs.filesystem_for(path, spark)``. Writing is
crash-safe on storage that can only delete-then-rename (HDFS):

1. both files are written (each atomically) into the temporary directory,
   which is then renamed to ``checkpoint-<iteration>``: a checkpoint directory
   with both files is complete;
2. ``latest`` is replaced (delete + rename where rename cannot overwrite);
3. older checkpoints and stale temporary entries are removed.

:func:`resolve_checkpoint` uses ``latest`` when it names a complete checkpoint,
else (``latest`` missing, or naming a removed directory) the newest complete
``checkpoint-*``, so a crash at any moment leaves a resumable checkpoint.

The trainer state (iteration, epoch, position in the epoch's permutation,
shuffling seed, RNG state, summaries so far) is stored as one JSON string, so
Python ints of any size (the RNG state) and ``None``/NaN survive unchanged.
"""
from __future__ import annotations

import contextlib
import json
import re
from typing import Any

from ..nn.module import Module
from ..serialization import model_from_bytes, model_to_bytes, state_from_bytes, state_to_bytes
from .local_fs import FileSystem, PathLike, default_filesystem, is_temporary, temporary_name

FORMAT = "bigdl-checkpoint-v1"
MODEL_FILE = "model.bigdl"
STATE_FILE = "state.bigdl"
LATEST = "latest"
_NAME = re.compile(r"^checkpoint-(\d+)(?:\.(\d+))?$")


def save_checkpoint(directory: PathLike, model: Module, optimizer: Any, trainer: dict[str, Any],
                    fs: FileSystem | None = None, staged: tuple[PathLike, str] | None = None) -> PathLike:
    """Write a checkpoint of ``model``, ``optimizer`` and the JSON-able ``trainer`` dict.

    ``trainer["state"]["iteration"]`` names the checkpoint. ``fs`` defaults to
    the local disk (plain paths and ``file://`` URIs). Returns its directory.
    ``staged``: the ``(temporary directory, final name)`` from :func:`stage_checkpoint`
    when other writers (optimizer shards) have already put files there.
    """
    fs = fs or default_filesystem(directory)
    tmp, final = staged or stage_checkpoint(directory, int(trainer["state"]["iteration"]), fs)
    try:
        fs.write_bytes_atomic(fs.join(tmp, MODEL_FILE), model_to_bytes(model))
        fs.write_bytes_atomic(fs.join(tmp, STATE_FILE), state_to_bytes(
            {"format": FORMAT, "optimizer": optimizer.state_dict(), "trainer": json.dumps(trainer)}))
        fs.rename(tmp, fs.join(directory, final))
    except BaseException:
        with contextlib.suppress(OSError):
            fs.delete(tmp, recursive=True)
        raise
    fs.write_bytes_atomic(fs.join(directory, LATEST), (final + "\n").encode("utf-8"))
    for entry in fs.listdir(directory):
        if entry != final and (_NAME.match(entry) or is_temporary(entry)):
            with contextlib.suppress(OSError):  # the new checkpoint is safe; a leftover is harmless
                fs.delete(fs.join(directory, entry), recursive=True)
    return fs.join(directory, final)


def stage_checkpoint(directory: PathLike, iteration: int, fs: FileSystem | None = None) -> tuple[PathLike, str]:
    """``(temporary directory, final name)`` for the checkpoint of ``iteration``; nothing is written yet.

    A re-run over an iteration that already has a checkpoint gets ``checkpoint-<iteration>.1`` (...).
    """
    fs = fs or default_filesystem(directory)
    fs.mkdirs(directory)
    name = f"checkpoint-{iteration}"
    final, suffix = name, 1
    while fs.exists(fs.join(directory, final)):  # a re-run over the same iteration never overwrites one
        final, suffix = f"{name}.{suffix}", suffix + 1
    return fs.join(directory, temporary_name(final)), final


def shard_file(index: int, count: int) -> str:
    """The file of optimizer shard ``index`` of ``count`` in a checkpoint written by a gang."""
    return f"optimizer-{index}-of-{count}.bigdl"


def resolve_checkpoint(path: PathLike, fs: FileSystem | None = None) -> PathLike:
    """The checkpoint directory for ``path``: a checkpoint itself, or a directory of checkpoints.

    In a directory of checkpoints, the one ``latest`` names if it is complete,
    else the newest complete ``checkpoint-*`` (after a crash while ``latest``
    was being replaced).

    Raises:
        FileNotFoundError: no complete checkpoint at ``path``.
    """
    fs = fs or default_filesystem(path)
    if _complete(fs, path):
        return path
    if fs.isdir(path):
        pointer = fs.join(path, LATEST)
        if fs.exists(pointer):
            named = fs.join(path, fs.read_bytes(pointer).decode("utf-8").strip())
            if _complete(fs, named):
                return named
        found = sorted((tuple(int(g or 0) for g in match.groups()), entry)
                       for entry in fs.listdir(path) if (match := _NAME.match(entry)))
        for _, entry in reversed(found):
            if _complete(fs, fs.join(path, entry)):
                return fs.join(path, entry)
    raise FileNotFoundError(f"no checkpoint at {path}: expected {MODEL_FILE} and {STATE_FILE} (or a "
                            f"directory of complete checkpoint-<iteration> directories)")


def load_checkpoint(path: PathLike, model: Module, optimizer: Any, fs: FileSystem | None = None) -> dict[str, Any]:
    """Restore ``model`` weights and ``optimizer`` state in place; return the trainer dict."""
    weights, optimizer_state, trainer = read_checkpoint(path, fs)
    model.load_state_dict(weights)
    optimizer.load_state_dict(optimizer_state)
    return trainer


def read_checkpoint(path: PathLike, fs: FileSystem | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A checkpoint's ``(model state_dict, optimizer state_dict, trainer dict)``, without touching any object.

    A gang's checkpoint keeps the optimizer state as shards, one file per slice
    owner (:func:`shard_file`); they are put back together into one state here.
    """
    fs = fs or default_filesystem(path)
    path = resolve_checkpoint(path, fs)
    state_path = fs.join(path, STATE_FILE)
    state = state_from_bytes(fs.read_bytes(state_path), source=str(state_path))
    if state.get("format") != FORMAT:
        raise ValueError(f"{state_path}: not a {FORMAT} checkpoint (format {state.get('format')!r})")
    model_path = fs.join(path, MODEL_FILE)
    weights = model_from_bytes(fs.read_bytes(model_path), source=str(model_path)).state_dict()
    optimizer = state["optimizer"]
    if "shards" in optimizer:
        from ..optim.sharding import merge_shard_states

        count = int(optimizer["shards"])
        parts = []
        for index in range(count):
            shard_path = fs.join(path, shard_file(index, count))
            if not fs.exists(shard_path):
                raise ValueError(f"{path}: the optimizer shard {shard_file(index, count)} is missing")
            parts.append(state_from_bytes(fs.read_bytes(shard_path), source=str(shard_path)))
        optimizer = merge_shard_states(parts, [tuple(int(d) for d in shape) for shape in optimizer["shapes"]],
                                       tuple(optimizer["counters"]))
    return weights, optimizer, json.loads(state["trainer"])


def _complete(fs: FileSystem, path: PathLike) -> bool:
    return fs.exists(fs.join(path, MODEL_FILE)) and fs.exists(fs.join(path, STATE_FILE))
