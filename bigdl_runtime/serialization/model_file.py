"""Model files: architecture, weights and metadata in one checksummed protobuf message.

    >>> save_model(net, "lenet.bigdl", labels=["0", "1"], input_spec={"shape": [None, 1, 28, 28]})
    >>> net2 = load_model("lenet.bigdl")
    >>> read_metadata("lenet.bigdl")["labels"]
    ['0', '1']

Weights are the model's ``state_dict`` entries (parameters and buffers) as raw
little-endian tensors; frozen parameters stay frozen. Loading never executes
code from the file and never unpickles: it looks layer types up in the layer
registry, calls their constructors with plain-data configs and copies tensors.
Every problem with a file is a ValueError naming the file.
"""
from __future__ import annotations

import difflib
import os
from typing import Any

import numpy as np

from .._version import __version__
from ..nn.module import Module
from . import model_pb2 as pb
from .architecture import layer_from_proto, layer_to_proto
from .framing import FORMAT_VERSION, atomic_write, read_bytes, seal, unseal
from .tensors import tensor_from_proto, tensor_to_proto
from .values import decode_map, encode_map

MAGIC = "bigdl_runtime.Model"


def model_to_bytes(model: Module, **metadata: Any) -> bytes:
    """The model file contents for ``model``; ``metadata`` values are plain data or numpy arrays."""
    msg = pb.Model(magic=MAGIC, format_version=FORMAT_VERSION, producer=f"bigdl_runtime {__version__}")
    layer_to_proto(model, msg.architecture)
    encode_map(metadata, msg.metadata, "metadata")
    for key, param in model.named_parameters():
        record = msg.weights.add(name=key, frozen=not param.trainable)
        tensor_to_proto(param.data, record.tensor)
    for key, buffer in model.named_buffers():
        tensor_to_proto(np.asarray(buffer), msg.weights.add(name=key).tensor)
    return seal(msg)


def model_from_bytes(data: bytes, source: str = "<bytes>") -> Module:
    """Rebuild a model from :func:`model_to_bytes` output; ``source`` names it in errors."""
    try:
        msg = unseal(data, pb.Model, MAGIC)
        model = layer_from_proto(msg.architecture)
        _load_weights(model, msg.weights)
    except ValueError as err:
        raise ValueError(f"model file '{source}': {err}") from err
    return model


def save_model(model: Module, path: str | os.PathLike, **metadata: Any) -> None:
    """Write ``model`` and ``metadata`` to ``path`` atomically (see :func:`model_to_bytes`)."""
    atomic_write(path, model_to_bytes(model, **metadata))


def load_model(path: str | os.PathLike) -> Module:
    """The model saved at ``path`` (in training mode, as constructors leave it)."""
    return model_from_bytes(read_bytes(path), source=os.fspath(path))


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata saved with the model at ``path``, without building the model."""
    try:
        msg = unseal(read_bytes(path), pb.Model, MAGIC)
        return decode_map(msg.metadata, "metadata")
    except ValueError as err:
        raise ValueError(f"model file '{os.fspath(path)}': {err}") from err


def _load_weights(model: Module, weights: Any) -> None:
    params = dict(model.named_parameters())
    buffers = {(f"{prefix}.{key}" if prefix else key): (mod, key)
               for prefix, mod in model.named_modules() for key in mod._buffers}
    shapes = {key: p.data.shape for key, p in params.items()}
    shapes.update({key: np.shape(mod._buffers[attr]) for key, (mod, attr) in buffers.items()})
    seen: set[str] = set()
    for record in weights:
        key, file_shape = record.name, tuple(record.tensor.shape)
        if key in seen:
            raise ValueError(f"weight '{key}' appears twice")
        seen.add(key)
        if key not in shapes:
            close = difflib.get_close_matches(key, list(shapes), n=3, cutoff=0.5)
            raise ValueError(f"unexpected weight '{key}' (shape {file_shape} in the file): the model has no "
                             f"such tensor" + (f"; close names: {close}" if close else ""))
        if file_shape != shapes[key]:
            raise ValueError(f"weight '{key}' has shape {file_shape} in the file but the model expects "
                             f"{shapes[key]}")
        try:
            value = tensor_from_proto(record.tensor)
        except ValueError as err:
            raise ValueError(f"weight '{key}': {err}") from None
        if key in params:
            params[key].data = np.asarray(value)
            params[key].grad = np.zeros_like(params[key].data)
            params[key].trainable = not record.frozen
        else:
            mod, attr = buffers[key]
            old = mod._buffers[attr]
            mod.register_buffer(attr, value if isinstance(old, np.ndarray) else type(old)(np.asarray(value).item()))
    missing = [key for key in shapes if key not in seen]
    if missing:
        raise ValueError(f"weight '{missing[0]}' (shape {shapes[missing[0]]} in the model) is missing from "
                         f"the file" + (f", and {len(missing) - 1} more: {missing[1:]}" if len(missing) > 1 else ""))
