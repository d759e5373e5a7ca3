"""Python values <-> ``Value`` records: the typed trees of layer configs, metadata and trainer state.

Supported: None, bool, int (any size: outside int64 stored as decimal digits),
float, str, bytes, list, tuple, dict (keys: any of these scalar kinds), numpy
arrays and numpy scalars. Decoding only ever builds these plain types.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import model_pb2 as pb
from .tensors import tensor_from_proto, tensor_to_proto

_INT64 = (-(2 ** 63), 2 ** 63 - 1)


def encode_value(value: Any, msg: pb.Value, where: str) -> pb.Value:
    """Fill ``msg`` with ``value``; TypeError naming ``where`` (e.g. ``config['size']``) if unsupported."""
    if value is None:
        msg.none.SetInParent()
    elif isinstance(value, np.generic) and not isinstance(value, (str, bytes)):
        _tensor(value, msg, where)
    elif isinstance(value, bool):
        msg.bool_value = value
    elif isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            msg.int_value = int(value)
        else:
            msg.big_int = str(int(value))
    elif isinstance(value, float):
        msg.float_value = value
    elif isinstance(value, str):
        msg.string_value = value
    elif isinstance(value, bytes):
        msg.bytes_value = value
    elif isinstance(value, (list, tuple)):
        items = msg.list_value
        items.SetInParent()
        items.tuple = isinstance(value, tuple)
        for i, item in enumerate(value):
            encode_value(item, items.items.add(), f"{where}[{i}]")
    elif isinstance(value, dict):
        encode_map(value, msg.map_value, where)
    elif isinstance(value, np.ndarray):
        _tensor(value, msg, where)
    else:
        raise TypeError(f"{where}: cannot store a value of type {type(value).__name__} "
                        "(supported: None, bool, int, float, str, bytes, list, tuple, dict, numpy arrays)")
    return msg


def _tensor(value: Any, msg: pb.Value, where: str) -> None:
    try:
        tensor_to_proto(value, msg.tensor_value)
    except TypeError as err:
        raise TypeError(f"{where}: {err}") from None


def encode_map(mapping: dict, msg: pb.ValueMap, where: str) -> pb.ValueMap:
    msg.SetInParent()
    for key, value in mapping.items():
        entry = msg.entries.add()
        encode_value(key, entry.key, f"{where} key {key!r}")
        encode_value(value, entry.value, f"{where}[{key!r}]")
    return msg


def decode_value(msg: pb.Value, where: str) -> Any:
    """The Python value of ``msg``; ValueError naming ``where`` if the record is malformed."""
    kind = msg.WhichOneof("kind")
    if kind == "none":
        return None
    if kind in ("bool_value", "int_value", "float_value", "string_value", "bytes_value"):
        return getattr(msg, kind)
    if kind == "big_int":
        try:
            return int(msg.big_int)
        except ValueError:
            raise ValueError(f"{where}: malformed integer {msg.big_int[:40]!r}") from None
    if kind == "list_value":
        items = [decode_value(item, f"{where}[{i}]") for i, item in enumerate(msg.list_value.items)]
        return tuple(items) if msg.list_value.tuple else items
    if kind == "map_value":
        return decode_map(msg.map_value, where)
    if kind == "tensor_value":
        try:
            return tensor_from_proto(msg.tensor_value)
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
    raise ValueError(f"{where}: empty value record")


def decode_map(msg: pb.ValueMap, where: str) -> dict:
    out: dict = {}
    for entry in msg.entries:
        key = decode_value(entry.key, f"{where} key")
        try:
            hash(key)
        except TypeError:
            raise ValueError(f"{where}: a {type(key).__name__} cannot be a dictionary key") from None
        if key in out:
            raise ValueError(f"{where}: duplicate key {key!r}")
        out[key] = decode_value(entry.value, f"{where}[{key!r}]")
    return out
