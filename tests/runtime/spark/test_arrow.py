"""Arrow columns <-> numpy tensors (no Spark needed): every input form, sliced arrays, bad cells named by position,
and the output columns in the Arrow types Spark reads back."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from bigdl_runtime.spark.arrow import VECTOR_TYPE, BadCell, list_column, tensor_type_error, tensors, vector_column


def _vectors(rows: list[dict]) -> pa.StructArray:
    return pa.array(rows, type=VECTOR_TYPE)


def dense(values: list[float]) -> dict:
    return {"type": 1, "size": None, "indices": None, "values": values}


def sparse(size: int, indices: list[int], values: list[float]) -> dict:
    return {"type": 0, "size": size, "indices": indices, "values": values}


def test_lists_nested_fixed_size_and_large_lists_decode_to_the_same_tensor(rng) -> None:
    x = rng.normal(size=(5, 2, 3)).astype(np.float32)
    nested = pa.array(x.tolist(), pa.list_(pa.list_(pa.float32())))
    flat = pa.array(x.reshape(5, -1).tolist(), pa.list_(pa.float64()))
    fixed = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 6)
    large = pa.array(x.reshape(5, -1).tolist(), pa.large_list(pa.float32()))
    np.testing.assert_array_equal(tensors(nested), x)                     # shape of row 0
    for column in (nested, flat, fixed, large):
        got = tensors(column, (2, 3))
        assert got.dtype == np.float32 and got.shape == (5, 2, 3)
        np.testing.assert_array_equal(got, x)
    chunked = pa.chunked_array([flat.slice(0, 2), flat.slice(2)])
    np.testing.assert_array_equal(tensors(chunked, (6,)), x.reshape(5, 6))


def test_slices_read_their_own_rows_only(rng) -> None:
    x = rng.normal(size=(9, 2, 2)).astype(np.float32)
    for column in (pa.array(x.tolist(), pa.list_(pa.list_(pa.float32()))),
                   pa.FixedSizeListArray.from_arrays(pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), 2), 2)):
        np.testing.assert_array_equal(tensors(column.slice(3, 4)), x[3:7])
        np.testing.assert_array_equal(tensors(column.slice(7)), x[7:])


def test_integers_and_booleans_become_int64_numbers_and_decimals_floats() -> None:
    tokens = tensors(pa.array([[1, 2, 3], [4, 5, 6]], pa.list_(pa.int32())))
    assert tokens.dtype == np.int64 and tokens.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert tensors(pa.array([[True, False]]), dtype=np.float32).tolist() == [[1.0, 0.0]]
    numbers = tensors(pa.array([1.5, 2.5]), (1,))
    assert numbers.shape == (2, 1) and numbers.dtype == np.float32
    assert tensors(pa.array([1.5, 2.5])).shape == (2,)                    # a number per row: shape ()
    from decimal import Decimal

    np.testing.assert_array_equal(tensors(pa.array([[Decimal("1.25")]], pa.list_(pa.decimal128(5, 2)))), [[1.25]])


def test_dense_and_sparse_vectors_mixed_in_one_column() -> None:
    column = _vectors([dense([1.0, 2.0, 3.0]), sparse(3, [2], [5.0]), sparse(3, [], []), dense([0.5, 0.0, -1.0])])
    want = np.array([[1, 2, 3], [0, 0, 5], [0, 0, 0], [0.5, 0, -1]], np.float32)
    np.testing.assert_array_equal(tensors(column), want)
    np.testing.assert_array_equal(tensors(column.slice(1, 2), (3, 1)), want[1:3, :, None])
    all_dense = _vectors([dense([1.0, 2.0]), dense([3.0, 4.0])])
    np.testing.assert_array_equal(tensors(all_dense, (1, 2)), [[[1, 2]], [[3, 4]]])


@pytest.mark.parametrize("column, row, message", [
    (pa.array([[1.0, 2.0], None, [3.0, 4.0]]), 1, "features are null"),
    (pa.array([[1.0, 2.0], [3.0, None]]), 1, "features hold a null value"),
    (pa.array([[[1.0], [2.0]], [[1.0], [2.0, 3.0]]]), 1, "ragged nested array"),
    (pa.array([[[1.0, 2.0]], [[3.0, 4.0]], [[1.0], None]]), 2, "features hold a null value"),
    (pa.array([[1.0, 2.0], [1.0, 2.0], [1.0]]), 2, r"features have shape \(1,\) \(1 values\); the first row of "
                                                   r"the batch has shape \(2,\) \(2 values\)"),
    (_vectors([dense([1.0, 2.0]), sparse(3, [0], [1.0])]), 1, r"features have shape \(3,\) \(3 values\)"),
    (_vectors([sparse(2, [0, 5], [1.0, 2.0])]), 0, "a sparse vector of size 2 has index 5"),
    (pa.array([[1.0, 2.0, 3.0]]), 0, r"features have shape \(3,\) \(3 values\); the input shape is \(2,\) "
                                     r"\(2 values\)"),
])
def test_bad_cells_are_named_by_position(column, row, message) -> None:
    with pytest.raises(BadCell, match=message) as info:
        tensors(column, None if row else (2,))
    assert info.value.row == row


def test_a_given_shape_names_the_first_row_of_the_wrong_size_and_the_caller_words_the_end() -> None:
    column = pa.array([[1.0] * 6, [1.0] * 6, [1.0] * 4])
    wanted = r"shape \(4,\) \(4 values\); cannot be reshaped to featureShape \[2, 3\]"
    with pytest.raises(BadCell, match=wanted) as info:
        tensors(column.slice(1), (2, 3), wanted="cannot be reshaped to featureShape [2, 3]")
    assert info.value.row == 1


def test_columns_without_numbers_are_refused() -> None:
    assert tensor_type_error(pa.list_(pa.list_(pa.float32()))) is None and tensor_type_error(VECTOR_TYPE) is None
    assert "string" in tensor_type_error(pa.list_(pa.string()))
    with pytest.raises(TypeError, match="does not hold tensors"):
        tensors(pa.array(["a", "b"]))


def test_output_columns_round_trip_in_sparks_arrow_types(rng) -> None:
    x = rng.normal(size=(4, 2, 3)).astype(np.float32)
    nested = list_column(x)
    assert nested.type == pa.list_(pa.field("element", pa.list_(pa.field("element", pa.float32(), False)), False))
    assert nested.to_pylist() == x.tolist()
    np.testing.assert_array_equal(tensors(nested.slice(1, 2)), x[1:3])
    assert list_column(x[:, 0, 0]).to_pylist() == x[:, 0, 0].tolist()
    vectors = vector_column(x.reshape(4, -1).astype(np.float64))
    assert vectors.type == VECTOR_TYPE
    assert vectors[2].as_py() == dense(x[2].ravel().astype(np.float64).tolist())
    np.testing.assert_array_equal(tensors(vectors), x.reshape(4, -1))


def test_binary_cells_are_raw_float32_or_uint8_values(rng) -> None:
    x = rng.normal(size=(4, 2, 3)).astype(np.float32)
    floats = pa.array([row.tobytes() for row in x], pa.binary())
    np.testing.assert_array_equal(tensors(floats, (2, 3)), x)
    np.testing.assert_array_equal(tensors(floats.slice(1, 2), (6,)), x[1:3].reshape(2, 6))
    np.testing.assert_array_equal(tensors(pa.array([r.tobytes() for r in x], pa.large_binary()), (2, 3)), x)
    pixels = rng.integers(0, 256, (3, 6), dtype=np.uint8)
    got = tensors(pa.array([row.tobytes() for row in pixels]), (1, 2, 3))
    assert got.dtype == np.float32 and got.tolist() == pixels.reshape(3, 1, 2, 3).tolist()
    with pytest.raises(BadCell, match=r"features are 6 bytes; the input shape is \(2, 3\) \(6 values\): as float32 "
                                      r"that is 24 bytes, as uint8 6") as info:
        tensors(pa.array([x[0].tobytes(), pixels[0].tobytes()]), (2, 3))
    assert info.value.row == 1
    with pytest.raises(ValueError, match="give the input shape"):
        tensors(floats)


def test_float32_binary_cells_are_read_in_place_unless_misaligned(rng) -> None:
    from bigdl_runtime.spark.arrow import binary_buffers

    x = rng.normal(size=(5, 6)).astype(np.float32)
    floats = pa.array([row.tobytes() for row in x], pa.binary())
    got = tensors(floats, (6,))
    np.testing.assert_array_equal(got, x)
    assert np.shares_memory(got, binary_buffers(floats)[1])      # no copy of the rows' bytes
    # cells whose bytes start off a 4-byte boundary (a leading 1-byte cell, sliced away) are copied, same values
    shifted = pa.array([b"\x00", *(row.tobytes() for row in x)], pa.binary()).slice(1)
    moved = tensors(shifted, (6,))
    np.testing.assert_array_equal(moved, x)
    assert moved.flags.aligned and not np.shares_memory(moved, binary_buffers(shifted)[1])
