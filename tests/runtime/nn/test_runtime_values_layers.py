"""Cast, ConstantOfShape and Range layers: forwards vs the ONNX reference, gradients, errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from bigdl_runtime.nn import layers as L
from tests.helpers.gradcheck import check_module
from tests.helpers.onnx_ref import run_node


@pytest.mark.parametrize("source, target", [(np.float32, "int64"), (np.float32, "bool"), (np.int64, "float32"),
                                            (np.float64, "float32"), (np.bool_, "int32")])
def test_cast_matches_onnx(source, target):
    x = (np.random.default_rng(0).standard_normal((3, 4)) * 3).astype(source)
    y = L.Cast(target)(x)
    to = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(target))
    (expected,) = run_node("Cast", [x], to=to)
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


def test_cast_gradient_only_between_floats():
    check_module(L.Cast("float64"), [np.linspace(-1, 1, 5)])
    m = L.Cast("float32")
    assert m(np.linspace(-1, 1, 5)).dtype == np.float32
    g = m.backward(np.arange(5, dtype=np.float32))
    assert g.dtype == np.float64 and g.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    to_int = L.Cast("int64")
    to_int(np.ones(3))
    assert to_int.backward(np.ones(3)) is None
    with pytest.raises(ValueError, match="unknown dtype 'float99'"):
        L.Cast("float99")
    with pytest.raises(ValueError, match="dtype must be one of bool, int8"):
        L.Cast("str")
    with pytest.raises(ValueError, match="got complex64"):
        L.Cast("complex64")


@pytest.mark.parametrize("value, dtype", [(0.0, "float32"), (3, "int64"), (1.5, "float64")])
def test_constant_of_shape_matches_onnx(value, dtype):
    shape = np.array([2, 3, 1], np.int64)
    y = L.ConstantOfShape(value, dtype)(shape)
    tensor = onnx.helper.make_tensor("value", onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), [1], [value])
    (expected,) = run_node("ConstantOfShape", [shape], value=tensor)
    assert y.dtype == expected.dtype
    np.testing.assert_array_equal(y, expected)


def test_constant_of_shape_errors():
    m = L.ConstantOfShape(name="zeros")
    with pytest.raises(ValueError, match=r"ConstantOfShape\('zeros'\): the shape must be a 1-D vector"):
        m(np.array([2.0, 3.0]))
    with pytest.raises(ValueError, match="refusing to allocate"):
        m(np.array([1 << 20, 1 << 20]))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        m.backward(None)


@pytest.mark.parametrize("start, limit, delta", [(1, 7, 2), (10, 4, -3), (0.5, 2.0, 0.25), (5, 5, 1), (3, 1, 1)])
def test_range_matches_onnx(start, limit, delta):
    dtype = np.float32 if isinstance(start, float) else np.int64
    xs = [np.array(v, dtype) for v in (start, limit, delta)]
    y = L.Range()(*xs)
    np.testing.assert_array_equal(y, run_node("Range", xs)[0])
    assert y.dtype == dtype


def test_range_errors():
    with pytest.raises(ValueError, match="delta is 0"):
        L.Range()(np.array(0), np.array(3), np.array(0))
    with pytest.raises(ValueError, match="expected 3 scalar inputs"):
        L.Range()(np.array(0), np.array([3, 4]), np.array(1))
