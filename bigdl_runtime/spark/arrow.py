"""Tensors in Arrow columns: decoded to numpy and encoded back without Python loops over rows.

What crosses the JVM <-> Python boundary in ``DataFrame.mapInArrow`` (and
``DataFrame.toArrow``) is Arrow; this module turns such columns into one
``(rows, *shape)`` numpy array per column, and numpy outputs into columns
Spark reads back. Accepted input columns (Spark type -> Arrow type):

    - ``array<...>`` of numbers, possibly nested (``list``, ``large_list`` or
      ``fixed_size_list``, any depth): every row holds a rectangular nested array;
    - an ml/mllib ``Vector`` (Arrow ``struct<type, size, indices, values>``;
      dense and sparse rows may mix);
    - a plain number column (one value per row);
    - ``binary`` holding each row's values as raw bytes, with a given shape of
      N values: 4N bytes are little-endian float32 (``np.float32`` array
      ``.tobytes()``), N bytes are uint8 (e.g. pixels). The JVM copies such a
      cell in one piece instead of value by value, so it is the cheapest form to
      ship.

Leaves are flattened once (``pyarrow`` offsets + ``to_numpy``, zero-copy for
numeric arrays without nulls), checked with vectorised offset arithmetic and
reshaped. A row that is null, holds a null, is ragged or has the wrong number of
values raises :class:`BadCell` with its position in the column; callers add the
partition and row offset.

Examples:
    >>> tensors(batch.column("pixels"), (1, 28, 28))          # (n, 1, 28, 28) float32
    >>> vector_column(np.eye(3))                              # 3 dense ml Vectors
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Arrow type of Spark ML's VectorUDT (its sqlType: dense rows are type 1 with values only, sparse rows type 0)
VECTOR_TYPE = pa.struct([pa.field("type", pa.int8(), nullable=False), pa.field("size", pa.int32()),
                         pa.field("indices", pa.list_(pa.field("element", pa.int32(), nullable=False))),
                         pa.field("values", pa.list_(pa.field("element", pa.float64(), nullable=False)))])


class BadCell(ValueError):
    """A cell that cannot become a tensor; ``row`` is its position in the decoded column."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(message)
        self.row = row
        self.message = message


# ------------------------------------------------------------------ types
def is_vector_type(t: pa.DataType) -> bool:
    """True for the Arrow form of an ml/mllib Vector column."""
    return pa.types.is_struct(t) and {t.field(i).name for i in range(t.num_fields)} == {"type", "size", "indices",
                                                                                            "values"}


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t)


def tensor_type_error(t: pa.DataType) -> str | None:
    """Why a column of Arrow type ``t`` cannot hold tensors (None when it can)."""
    if is_vector_type(t) or _is_binary(t):
        return None
    while _is_list(t):
        t = t.value_type
    return None if _is_number(t) else f"{t} values are not numbers"


# ------------------------------------------------------------------ decoding
def tensors(column: pa.Array | pa.ChunkedArray, shape: Sequence[int] | None = None, dtype: type | None = None,
            wanted: str | None = None) -> np.ndarray:
    """A column of numeric cells as one ``(rows, *shape)`` array.

    Args:
        column: an array, nested-array, Vector or number column (see the module doc).
        shape: one row's shape; a cell with as many values (e.g. a flat image) is
            reshaped to it. None: row 0's own shape (every row must have as many values).
        dtype: the result's type; None gives int64 for integer or boolean leaves,
            float32 for everything else.
        wanted: how a size mismatch ends (default ``"the input shape is S (N values)"``).

    Raises:
        BadCell: a null cell or value, a ragged nested array, or a cell with the
            wrong number of values (the first such row).
        TypeError: a column whose values are not numbers.
    """
    if isinstance(column, pa.ChunkedArray):
        column = pa.concat_arrays(column.chunks) if column.num_chunks != 1 else column.chunk(0)
    problem = tensor_type_error(column.type)
    if problem is not None:
        raise TypeError(f"a {column.type} column does not hold tensors: {problem}")
    n = len(column)
    if column.null_count:
        raise BadCell(_first_null(column), "features are null")
    if _is_binary(column.type):
        return _binary(column, shape, dtype, wanted)
    if is_vector_type(column.type):
        sizes = _vector_sizes(column)
        dims, ragged, counts = [sizes], np.zeros(n, bool), sizes
    else:
        leaves, bounds, dims, ragged = _nested(column)
        counts = np.diff(bounds)
    if shape is None:
        if n == 0:
            raise ValueError("tensors: an empty column has no row 0 to take the shape from")
        if ragged[0]:
            raise BadCell(0, "features are a ragged nested array, not a numeric array")
        shape = tuple(int(d[0]) for d in dims)
        wanted = wanted or f"the first row of the batch has shape {shape} ({math.prod(shape)} values)"
    shape = tuple(int(d) for d in shape)
    size = math.prod(shape)
    bad = np.flatnonzero(ragged | (counts != size))
    if bad.size:
        i = int(bad[0])
        if ragged[i]:
            raise BadCell(i, "features are a ragged nested array, not a numeric array")
        found = tuple(int(d[i]) for d in dims)
        raise BadCell(i, f"features have shape {found} ({int(counts[i])} values); "
                         f"{wanted or f'the input shape is {shape} ({size} values)'}")
    if is_vector_type(column.type):
        values = _vector_values(column, size)
        kind = "f"
    else:
        values, kind = leaves, leaves.dtype.kind
    target = dtype or (np.int64 if kind in "iub" else np.float32)
    return values.astype(target, copy=False).reshape((n, *shape))


def _first_null(array: pa.Array) -> int:
    return int(np.flatnonzero(array.is_null().to_numpy(zero_copy_only=False))[0])


def _offsets(array: pa.Array) -> np.ndarray:
    """Where each list of ``array`` starts and ends in ``array.values`` (length ``len(array) + 1``)."""
    if pa.types.is_fixed_size_list(array.type):
        return (array.offset + np.arange(len(array) + 1, dtype=np.int64)) * array.type.list_size
    return array.offsets.to_numpy().astype(np.int64, copy=False)


def _nested(column: pa.Array) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """(leaf values of all rows, each row's leaf range (n + 1 bounds), each row's size per nesting level,
    which rows are ragged): a row's size at a level is the length its lists there share."""
    n = len(column)
    bounds = np.arange(n + 1, dtype=np.int64)     # each row's element range at the current level
    dims: list[np.ndarray] = []
    ragged = np.zeros(n, bool)
    array = column
    while _is_list(array.type):
        offsets = _offsets(array)
        lengths = np.diff(offsets[bounds[0]:bounds[-1] + 1])   # the lists the rows use
        starts = bounds[:-1] - bounds[0]
        full = bounds[1:] > bounds[:-1]
        low, high = np.zeros(n, np.int64), np.zeros(n, np.int64)
        if full.any():
            low[full] = np.minimum.reduceat(lengths, starts[full])
            high[full] = np.maximum.reduceat(lengths, starts[full])
        dims.append(high)
        ragged |= low != high
        bounds = offsets[bounds]
        array = array.values
        used = array.slice(bounds[0], bounds[-1] - bounds[0])
        if used.null_count:
            row = int(np.searchsorted(bounds, bounds[0] + _first_null(used), side="right")) - 1
            raise BadCell(row, "features hold a null value")
    leaves = array.slice(bounds[0], bounds[-1] - bounds[0])
    if pa.types.is_decimal(leaves.type):
        leaves = pc.cast(leaves, pa.float64())
    return leaves.to_numpy(zero_copy_only=False), bounds - bounds[0], dims, ragged


def _binary(column: pa.Array, shape: Sequence[int] | None, dtype: type | None, wanted: str | None) -> np.ndarray:
    """Raw-bytes cells of ``shape``: float32 (4 bytes a value) or uint8 (1 byte a value), one type for all rows."""
    if shape is None:
        raise ValueError("a binary column holds raw bytes: give the input shape to read them as values")
    shape = tuple(int(d) for d in shape)
    size = math.prod(shape)
    offsets, raw = binary_buffers(column)
    lengths = np.diff(offsets)
    width = 4 if lengths.size and lengths[0] == 4 * size else 1
    bad = np.flatnonzero(lengths != width * size)
    if bad.size:
        i = int(bad[0])
        raise BadCell(i, f"features are {int(lengths[i])} bytes; "
                         f"{wanted or f'the input shape is {shape} ({size} values)'}: as float32 that is "
                         f"{4 * size} bytes, as uint8 {size} (every row of a batch in the same type)")
    values = raw[offsets[0]:offsets[-1]]
    values = values.view(np.dtype("<f4")) if width == 4 else values
    # float32 cells stay in Arrow's buffer (read-only, as the zero-copy list columns are), unless misaligned
    return values.astype(dtype or np.float32, copy=not values.flags.aligned).reshape((len(column), *shape))


def binary_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A binary column's value offsets (``len + 1``, into the data buffer) and its data buffer as uint8, no copy."""
    _, offsets, raw = column.buffers()[:3]
    kind = np.dtype(np.int64 if pa.types.is_large_binary(column.type) else np.int32)
    bounds = np.frombuffer(offsets, kind, count=len(column) + 1, offset=column.offset * kind.itemsize)
    return bounds.astype(np.int64), (np.frombuffer(raw, np.uint8) if raw is not None else np.zeros(0, np.uint8))


def binary_column(offsets: np.ndarray, data: np.ndarray) -> pa.BinaryArray:
    """A binary column whose cell ``i`` is ``data[offsets[i]:offsets[i + 1]]``, built on the two buffers (no copy
    per cell; the inverse of :func:`binary_buffers`). ``data`` must be under 2 GiB (int32 offsets)."""
    return pa.BinaryArray.from_buffers(pa.binary(), len(offsets) - 1,
                                       [None, pa.py_buffer(np.ascontiguousarray(offsets, np.int32)),
                                        pa.py_buffer(np.ascontiguousarray(data).reshape(-1).view(np.uint8))])


def _vector_sizes(column: pa.StructArray) -> np.ndarray:
    """Each Vector's size: its value count when dense, its ``size`` field when sparse."""
    kinds = column.field("type").to_numpy(zero_copy_only=False)
    lengths = pc.list_value_length(column.field("values")).fill_null(0).to_numpy(zero_copy_only=False)
    sizes = column.field("size").fill_null(-1).to_numpy(zero_copy_only=False)
    return np.where(kinds == 1, lengths, sizes).astype(np.int64)


def _vector_values(column: pa.StructArray, size: int) -> np.ndarray:
    """Vectors of ``size`` values each as an ``(n, size)`` float64 array (sparse rows scattered into zeros)."""
    dense = column.field("type").to_numpy(zero_copy_only=False) == 1
    values = column.field("values")
    if dense.all():
        return values.flatten().to_numpy(zero_copy_only=False).reshape(len(column), size)
    out = np.zeros((len(column), size), np.float64)
    if dense.any():
        out[dense] = values.filter(pa.array(dense)).flatten().to_numpy(zero_copy_only=False).reshape(-1, size)
    sparse = pa.array(~dense)
    sparse_values = values.filter(sparse)
    indices = column.field("indices").filter(sparse)
    nnz = pc.list_value_length(sparse_values).fill_null(0).to_numpy(zero_copy_only=False)
    count = pc.list_value_length(indices).fill_null(0).to_numpy(zero_copy_only=False)
    where = np.flatnonzero(~dense)
    cols = indices.flatten().to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(nnz != count)
    if bad.size:
        raise BadCell(int(where[bad[0]]), f"a sparse vector with {int(count[bad[0]])} indices and "
                                          f"{int(nnz[bad[0]])} values")
    rows = np.repeat(where, nnz)
    outside = np.flatnonzero((cols < 0) | (cols >= size))
    if outside.size:
        raise BadCell(int(rows[outside[0]]), f"a sparse vector of size {size} has index {int(cols[outside[0]])}")
    out[rows, cols] = sparse_values.flatten().to_numpy(zero_copy_only=False)
    return out


# ------------------------------------------------------------------ encoding
def list_column(x: np.ndarray, element: pa.DataType = pa.float32()) -> pa.Array:
    """``(n, *shape)`` -> n nested arrays of ``shape`` (Spark ``array<array<...>>``, no nulls); a number per row for
    ``(n,)``."""
    array: pa.Array = pa.array(np.ascontiguousarray(x, dtype=element.to_pandas_dtype()).reshape(-1), type=element)
    for level in range(x.ndim - 1, 0, -1):
        lists = math.prod(x.shape[:level])
        offsets = pa.array(np.arange(lists + 1, dtype=np.int32) * x.shape[level])
        array = pa.ListArray.from_arrays(offsets, array, type=pa.list_(pa.field("element", array.type, False)))
    return array


def vector_column(x: np.ndarray) -> pa.StructArray:
    """``(n, size)`` -> n dense ml Vectors (Spark's VectorUDT)."""
    n = x.shape[0]
    values = list_column(np.asarray(x, dtype=np.float64).reshape(n, -1), pa.float64())
    return pa.StructArray.from_arrays(
        [pa.array(np.ones(n, np.int8)), pa.nulls(n, pa.int32()), pa.nulls(n, VECTOR_TYPE.field("indices").type),
         values], fields=list(VECTOR_TYPE))
