"""Value records: typed trees of configs, metadata and state round trip exactly; bad input is named."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.serialization import model_pb2 as pb
from bigdl_runtime.serialization.values import decode_value, encode_value

ROUND_TRIPS = {
    "none": None,
    "bools": [True, False],
    "int64 limits": [-(2 ** 63), 2 ** 63 - 1, 0, -7],
    "big ints": [2 ** 64, -(2 ** 100) - 3, 340282366920938463463374607431768211455],
    "floats": [0.1, -1e-300, float("inf"), 1e300],
    "strings": ["", "conv1", "ünïcødé"],
    "bytes": b"\x00\xff\x80\x04N.",
    "tuple vs list": ([1, (2, 3)], (4, [5]), ()),
    "nested dicts": {"a": {"b": [{"c": None}]}, 3: "int key", (1, "t"): "tuple key", None: 0},
    "arrays": [np.arange(6, dtype=np.int64).reshape(2, 3), np.ones((0, 2), np.float32)],
    "numpy scalars": [np.float32(0.25), np.int64(-3), np.bool_(True), np.float64(2.5)],
}


def _same(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("value", list(ROUND_TRIPS.values()), ids=list(ROUND_TRIPS))
def test_round_trip_is_exact_including_types(value):
    back = decode_value(pb.Value.FromString(encode_value(value, pb.Value(), "v").SerializeToString()), "v")
    assert _same(back, value), (back, value)


def test_nan_round_trips():
    back = decode_value(encode_value(float("nan"), pb.Value(), "v"), "v")
    assert isinstance(back, float) and np.isnan(back)


def test_numpy_bit_generator_state_round_trips_and_resumes_the_stream():
    rng = np.random.default_rng(2024)
    rng.standard_normal(7)
    state = decode_value(encode_value(rng.bit_generator.state, pb.Value(), "rng"), "rng")
    expected = rng.standard_normal(5)
    other = np.random.default_rng()
    other.bit_generator.state = state
    np.testing.assert_array_equal(other.standard_normal(5), expected)


@pytest.mark.parametrize("value, where", [
    ({"opt": {"lr": {1, 2}}}, r"state\['opt'\]\['lr'\]: cannot store a value of type set"),
    ({"f": [1, lambda: 0]}, r"state\['f'\]\[1\]: cannot store a value of type function"),
    ({"a": np.array(["x"])}, r"state\['a'\]: cannot store an array of dtype <U1"),
])
def test_unsupported_values_are_named_by_path(value, where):
    with pytest.raises(TypeError, match=where):
        encode_value(value, pb.Value(), "state")


def test_malformed_records_are_rejected_with_their_path():
    empty = pb.Value()
    with pytest.raises(ValueError, match=r"cfg: empty value record"):
        decode_value(empty, "cfg")
    bad_int = pb.Value(list_value=pb.ValueList(items=[pb.Value(big_int="12ab")]))
    with pytest.raises(ValueError, match=r"cfg\[0\]: malformed integer '12ab'"):
        decode_value(bad_int, "cfg")
    list_key = pb.Value(map_value=pb.ValueMap(entries=[
        pb.MapEntry(key=pb.Value(list_value=pb.ValueList()), value=pb.Value(int_value=1))]))
    with pytest.raises(ValueError, match="a list cannot be a dictionary key"):
        decode_value(list_key, "cfg")
    twice = pb.Value(map_value=pb.ValueMap(entries=[
        pb.MapEntry(key=pb.Value(string_value="k"), value=pb.Value(int_value=i)) for i in range(2)]))
    with pytest.raises(ValueError, match="duplicate key 'k'"):
        decode_value(twice, "cfg")
