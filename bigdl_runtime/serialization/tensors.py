"""numpy arrays <-> ``Tensor`` records: raw little-endian C-order bytes of a fixed list of dtypes.

Only plain numeric and boolean dtypes are accepted in either direction, so a
file can never ask for an object array (which numpy would unpickle).
"""
from __future__ import annotations

import math

import numpy as np

from . import model_pb2 as pb

#: The dtypes a tensor may have, by numpy name.
DTYPES: dict[str, np.dtype] = {name: np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}


def tensor_to_proto(value: np.ndarray | np.generic, msg: pb.Tensor) -> pb.Tensor:
    """Fill ``msg`` with ``value`` (an array, or a numpy scalar which decodes as a scalar again)."""
    array = np.asarray(value)
    if array.dtype.name not in DTYPES:
        raise TypeError(f"cannot store an array of dtype {array.dtype}; supported: {sorted(DTYPES)}")
    msg.dtype = array.dtype.name
    msg.shape[:] = array.shape
    msg.data = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    msg.scalar = isinstance(value, np.generic)
    return msg


def tensor_from_proto(msg: pb.Tensor) -> np.ndarray | np.generic:
    """A new writable native-order array (or numpy scalar) from ``msg``; ValueError if malformed."""
    dtype = DTYPES.get(msg.dtype)
    if dtype is None:
        raise ValueError(f"unsupported tensor dtype '{msg.dtype}' (supported: {sorted(DTYPES)})")
    shape = tuple(msg.shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"negative dimension in tensor shape {shape}")
    expected = math.prod(shape) * dtype.itemsize
    if len(msg.data) != expected:
        raise ValueError(f"tensor of dtype {dtype.name} and shape {shape} needs {expected} bytes, "
                         f"the record has {len(msg.data)}")
    array = np.frombuffer(msg.data, dtype=dtype.newbyteorder("<")).reshape(shape).astype(dtype)
    if msg.scalar:
        if shape != ():
            raise ValueError(f"a scalar tensor must have shape (), got {shape}")
        return array[()]
    return array
