"""Reading an ONNX model safely (parse checks, external data inside the model's folder, size limits) and the
(shape, dtype) its value infos declare.

Nothing here executes code from the file: the model is a protobuf message and
external tensor data is read as raw bytes from files next to the model.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto, numpy_helper

#: default ceiling on one tensor's size (bytes): larger declared shapes are refused before allocating
DEFAULT_MAX_TENSOR_BYTES = 4 << 30


class OnnxImportError(ValueError):
    """An ONNX model that cannot be imported: the message names the file, node or tensor at fault."""


class ConstantRequiredError(OnnxImportError):
    """A node input that must be known at import time (a weight, shape, axes) is computed at run time."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        #: position of the offending input in the node's inputs
        self.index = index


def read_model(source: "str | os.PathLike | bytes | onnx.ModelProto") -> tuple[onnx.ModelProto, Path | None, str]:
    """Parse ``source`` into a ModelProto; also return its folder (for external data) and a label.

    Raises:
        OnnxImportError: a missing file, or bytes that are not an ONNX model (truncated, other format).
    """
    if isinstance(source, onnx.ModelProto):
        return source, None, "<ModelProto>"
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _parse(bytes(source), "<bytes>"), None, "<bytes>"
    path = Path(source)
    if not path.is_file():
        raise OnnxImportError(f"ONNX model file {str(path)!r} does not exist")
    return _parse(path.read_bytes(), str(path)), path.resolve().parent, str(path)


def _parse(data: bytes, label: str) -> onnx.ModelProto:
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as err:
        raise OnnxImportError(f"{label} is not a valid ONNX model (truncated or another format): {err}") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise OnnxImportError(f"{label} is not an ONNX model: it has no graph, opset imports or IR version "
                              "(truncated or another format?)")
    return model


def tensor_nbytes(tensor: TensorProto) -> int:
    """Bytes the tensor takes once decoded (from its declared dims and type)."""
    count = 1
    for d in tensor.dims:
        if d < 0:
            raise OnnxImportError(f"tensor {tensor.name!r} has a negative dimension {list(tensor.dims)}")
        count *= int(d)
    itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type)).itemsize \
        if tensor.data_type != TensorProto.STRING else 8
    return count * itemsize


def check_size(shape: "tuple[int, ...] | list[int]", dtype: np.dtype, what: str, limit: int) -> None:
    """Refuse a tensor of ``shape`` larger than ``limit`` bytes before it is allocated."""
    count = 1
    for d in shape:
        if int(d) < 0:
            raise OnnxImportError(f"{what}: negative dimension in shape {list(shape)}")
        count *= int(d)
    nbytes = count * np.dtype(dtype).itemsize
    if nbytes > limit:
        raise OnnxImportError(f"{what}: shape {list(shape)} would allocate {nbytes / 2**30:.1f} GiB, over the "
                              f"limit of {limit / 2**30:.1f} GiB (raise max_tensor_bytes if this is intended)")


def tensor_to_array(tensor: TensorProto, base_dir: Path | None, limit: int, what: str = "") -> np.ndarray:
    """Decode a TensorProto (external data read from inside ``base_dir`` only), size-checked first."""
    label = what or f"tensor {tensor.name!r}"
    nbytes = tensor_nbytes(tensor)
    if nbytes > limit:
        raise OnnxImportError(f"{label}: shape {list(tensor.dims)} would allocate {nbytes / 2**30:.1f} GiB, over "
                              f"the limit of {limit / 2**30:.1f} GiB (raise max_tensor_bytes if intended)")
    if tensor.data_location == TensorProto.EXTERNAL:
        tensor = _with_external_data(tensor, base_dir, nbytes, label)
    try:
        return np.asarray(numpy_helper.to_array(tensor))
    except (ValueError, TypeError) as err:
        raise OnnxImportError(f"{label}: cannot decode (shape {list(tensor.dims)}, data type "
                              f"{onnx.helper.tensor_dtype_to_string(tensor.data_type)}): {err}") from None


def _with_external_data(tensor: TensorProto, base_dir: Path | None, nbytes: int, label: str) -> TensorProto:
    info = {entry.key: entry.value for entry in tensor.external_data}
    location = info.get("location", "")
    if base_dir is None:
        raise OnnxImportError(f"{label} stores its data in an external file {location!r}; load the model from "
                              "its path (not bytes or a ModelProto) so the file can be found next to it")
    if not location or os.path.isabs(location):
        raise OnnxImportError(f"{label}: external data location {location!r} must be a path relative to the "
                              f"model's folder {str(base_dir)!r}")
    target = (base_dir / location).resolve()
    if os.path.commonpath([str(target), str(base_dir)]) != str(base_dir):
        raise OnnxImportError(f"{label}: external data location {location!r} leaves the model's folder "
                              f"{str(base_dir)!r}; refused")
    if not target.is_file():
        raise OnnxImportError(f"{label}: external data file {str(target)!r} does not exist")
    offset = int(info.get("offset", 0))
    length = int(info.get("length", nbytes))
    size = target.stat().st_size
    if offset < 0 or length != nbytes or offset + length > size:
        raise OnnxImportError(f"{label}: external data ({location!r}, offset {offset}, length {length}) does "
                              f"not hold the {nbytes} bytes its shape needs (file size {size})")
    with open(target, "rb") as f:
        f.seek(offset)
        raw = f.read(length)
    copy = TensorProto()
    copy.CopyFrom(tensor)
    del copy.external_data[:]
    copy.data_location = TensorProto.DEFAULT
    copy.raw_data = raw
    return copy


def value_info(vi: onnx.ValueInfoProto) -> tuple[tuple | None, np.dtype | None]:
    """(shape with None for unknown dims, or None; dtype or None) declared by a ValueInfoProto."""
    t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
    if t is None:
        return None, None
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)) if t.elem_type else None
    if not t.HasField("shape"):
        return None, dtype
    # a negative dim_value (-1, as some exporters write for a dynamic axis) is unknown, like a dim_param
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None for d in t.shape.dim), dtype
