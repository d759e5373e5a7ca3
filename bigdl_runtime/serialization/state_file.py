"""State files: trainer checkpoints as typed value trees in one checksummed protobuf message.

A state is a dict of nested dicts, lists and tuples of numpy arrays, numpy
scalars, ints of any size (numpy bit-generator states hold 128-bit integers),
floats, strings, bytes, bools and None: optimizer state, RNG state, iteration,
epoch, summaries. Loading builds only these plain types (no pickle, no code).

    >>> save_state("ckpt/state.bin", {"iteration": 1200, "rng": rng.bit_generator.state})
    >>> load_state("ckpt/state.bin")["iteration"]
    1200
"""
from __future__ import annotations

import os
from typing import Any

from .._version import __version__
from . import model_pb2 as pb
from .framing import FORMAT_VERSION, atomic_write, read_bytes, seal, unseal
from .values import decode_value, encode_value

MAGIC = "bigdl_runtime.State"


def state_to_bytes(state: dict[str, Any]) -> bytes:
    """The state file contents for ``state``; TypeError naming the path of an unsupported value."""
    if not isinstance(state, dict):
        raise TypeError(f"a state must be a dict, got {type(state).__name__}")
    msg = pb.State(magic=MAGIC, format_version=FORMAT_VERSION, producer=f"bigdl_runtime {__version__}")
    encode_value(state, msg.root, "state")
    return seal(msg)


def state_from_bytes(data: bytes, source: str = "<bytes>") -> dict[str, Any]:
    """The state stored by :func:`state_to_bytes`; ``source`` names it in errors."""
    try:
        msg = unseal(data, pb.State, MAGIC)
        state = decode_value(msg.root, "state")
        if not isinstance(state, dict):
            raise ValueError(f"the stored state is of type {type(state).__name__}, not a dict")
    except ValueError as err:
        raise ValueError(f"state file '{source}': {err}") from err
    return state


def save_state(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically."""
    atomic_write(path, state_to_bytes(state))


def load_state(path: str | os.PathLike) -> dict[str, Any]:
    return state_from_bytes(read_bytes(path), source=os.fspath(path))
