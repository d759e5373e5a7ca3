"""Tensor records: raw little-endian bytes for every supported dtype, malformed records rejected."""
from __future__ import annotations

import re

import numpy as np
import pytest

from bigdl_runtime.serialization import model_pb2 as pb
from bigdl_runtime.serialization.tensors import DTYPES, tensor_from_proto, tensor_to_proto


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("shape", [(), (0,), (5,), (2, 3, 1), (3, 0, 2)])
def test_round_trip_keeps_dtype_shape_and_values(dtype, shape):
    rng = np.random.default_rng(0)
    array = np.asarray(rng.standard_normal(shape) * 50).astype(dtype)
    back = tensor_from_proto(tensor_to_proto(array, pb.Tensor()))
    assert isinstance(back, np.ndarray) and back.dtype == np.dtype(dtype) and back.shape == shape
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable and back.flags.c_contiguous


def test_bytes_are_little_endian_c_order_whatever_the_input_layout():
    big_endian = np.arange(6, dtype=">i4").reshape(2, 3)
    record = tensor_to_proto(big_endian.T, pb.Tensor())
    assert record.dtype == "int32" and list(record.shape) == [3, 2]
    assert record.data == np.ascontiguousarray(big_endian.T, dtype="<i4").tobytes()
    back = tensor_from_proto(record)
    assert back.dtype.isnative
    np.testing.assert_array_equal(back, big_endian.T)


def test_numpy_scalars_come_back_as_scalars():
    back = tensor_from_proto(tensor_to_proto(np.float32(1.5), pb.Tensor()))
    assert type(back) is np.float32 and back == np.float32(1.5)


@pytest.mark.parametrize("value", [np.array(["a"]), np.array([object()], dtype=object),
                                   np.zeros(2, dtype="datetime64[s]")])
def test_unsupported_dtypes_cannot_be_written(value):
    with pytest.raises(TypeError, match=re.escape(f"cannot store an array of dtype {value.dtype}")):
        tensor_to_proto(value, pb.Tensor())


@pytest.mark.parametrize("record, message", [
    (pb.Tensor(dtype="object", shape=[1], data=b"\x80\x04N."), "unsupported tensor dtype 'object'"),
    (pb.Tensor(dtype="float32", shape=[2, 2], data=bytes(12)), r"shape \(2, 2\) needs 16 bytes, the record has 12"),
    (pb.Tensor(dtype="int8", shape=[-1], data=b""), r"negative dimension in tensor shape \(-1,\)"),
    (pb.Tensor(dtype="int8", shape=[1], data=b"\x01", scalar=True), r"scalar tensor must have shape \(\)"),
])
def test_malformed_records_are_rejected(record, message):
    with pytest.raises(ValueError, match=message):
        tensor_from_proto(record)
