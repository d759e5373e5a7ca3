"""Shape layers: Concat, Split, Reshape, Flatten, Transpose."""
from __future__ import annotations

import math

import numpy as np
import pytest

from bigdl_runtime.nn import LAYER_REGISTRY, Sequential
from bigdl_runtime.nn.layers.shape import Concat, Flatten, Reshape, Split, Transpose
from tests.helpers.gradcheck import check_module


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CASES = [  # (layer factory, input shapes, expected output shape(s))
    (lambda: Concat(), [(2, 3, 2), (2, 1, 2)], (2, 4, 2)),
    (lambda: Concat(dim=-1), [(2, 3), (2, 2), (2, 1)], (2, 6)),
    (lambda: Split(2), [(2, 5, 3)], [(2, 2, 3), (2, 2, 3), (2, 1, 3)]),
    (lambda: Split([1, 3], dim=2), [(1, 2, 4)], [(1, 2, 1), (1, 2, 3)]),
    (lambda: Reshape([4, -1]), [(2, 4, 3, 1)], (2, 4, 3)),
    (lambda: Reshape([0, -1]), [(2, 3, 2, 2)], (2, 3, 4)),
    (lambda: Flatten(), [(2, 3, 2, 2)], (2, 12)),
    (lambda: Flatten(start_dim=2), [(2, 3, 2, 2)], (6, 4)),
    (lambda: Transpose([0, 2, 3, 1]), [(2, 3, 1, 2)], (2, 1, 2, 3)),
]


@pytest.mark.parametrize("make, shapes, out_shape", CASES)
def test_output_shape_and_gradients(make, shapes, out_shape):
    m = make()
    inputs = [_x(*s, seed=i) for i, s in enumerate(shapes)]
    y = m(*inputs)
    assert (y.shape if isinstance(out_shape, tuple) else [p.shape for p in y]) == out_shape
    check_module(m, inputs)


@pytest.mark.parametrize("make, shapes, out_shape", CASES)
def test_config_rebuilds_the_same_layer(make, shapes, out_shape):
    m = make()
    rebuilt = type(m)(**m.get_config())
    assert rebuilt.get_config() == m.get_config()
    inputs = [_x(*s, seed=i).astype(np.float32) for i, s in enumerate(shapes)]
    got, want = rebuilt(*inputs), m(*inputs)
    for g, w in zip(got, want) if isinstance(want, tuple) else [(got, want)]:
        np.testing.assert_array_equal(g, w)


def test_split_then_concat_round_trips_through_sequential():
    net = Sequential(Split([1, 2]), Concat())
    x = _x(2, 3, 2)
    np.testing.assert_array_equal(net(x), x)
    np.testing.assert_array_equal(net.backward(x), x)


def test_split_backward_accepts_unused_outputs():
    m = Split(1, dim=0)
    a, b = m(np.ones((2, 3), np.float32))
    dx = m.backward((None, np.ones_like(b)))
    np.testing.assert_array_equal(dx, [[0, 0, 0], [1, 1, 1]])


@pytest.mark.parametrize("make, inputs, message", [
    (lambda: Concat(name="cat"), [np.zeros((2, 3)), np.zeros((3, 3))],
     r"Concat\('cat'\): concat: shapes \[\(2, 3\), \(3, 3\)\]"),
    (lambda: Split([2, 2]), [np.zeros((2, 5))], r"Split: split: sizes \[2, 2\] .* \(2, 5\)"),
    (lambda: Split(2, dim=3), [np.zeros((2, 5))], r"Split: dim 3 is out of range for a 2-D input \(2, 5\)"),
    (lambda: Reshape([5]), [np.zeros((2, 3, 2))], r"Reshape: reshape: cannot reshape \(2, 3, 2\) .* \[2, 5\]"),
    (lambda: Flatten(4), [np.zeros((2, 3))], r"Flatten: flatten: start_dim 4 .* \(2, 3\)"),
    (lambda: Transpose([0, 2, 1]), [np.zeros((2, 3))], r"Transpose: transpose: perm \[0, 2, 1\] .* \(2, 3\)"),
])
def test_bad_input_names_the_layer(make, inputs, message):
    with pytest.raises(ValueError, match=message):
        make()(*inputs)


@pytest.mark.parametrize("make", [lambda: Concat(), lambda: Split(1), lambda: Reshape([-1]),
                                  lambda: Flatten(), lambda: Transpose([1, 0])])
def test_backward_before_forward_is_an_error(make):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        make().backward(np.ones((2, 2)))


@pytest.mark.parametrize("alias, cls", [("JoinTable", Concat), ("Permute", Transpose), ("View", Reshape)])
def test_registered_aliases(alias, cls):
    assert LAYER_REGISTRY[alias] is cls


def test_split_by_sizes_given_per_call_and_chunk() -> None:
    from bigdl_runtime.nn.layers.shape import Chunk, SplitBy

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 7, 3))
    layer = SplitBy(dim=1)
    parts = layer(x, np.array([2, 0, 5]))
    assert [p.shape[1] for p in parts] == [2, 0, 5]
    np.testing.assert_array_equal(np.concatenate(parts, axis=1), x)
    dx, dsizes = layer.backward((np.ones((2, 2, 3)), None, 2 * np.ones((2, 5, 3))))
    assert dsizes is None and dx[:, :2].sum() == 12 and dx[:, 2:].sum() == 60
    with pytest.raises(ValueError, match="do not add up"):
        layer(x, np.array([3, 3]))
    with pytest.raises(ValueError, match="non-negative integers"):
        layer(x, np.array([8, -1]))
    assert [p.shape[-1] for p in Chunk(2, dim=-1)(np.zeros((1, 5)))] == [3, 2]
    with pytest.raises(ValueError, match="does not cut into 3 parts"):
        Chunk(3, dim=1)(np.zeros((1, 4)))
    check_module(Chunk(3, dim=1), [x])


@pytest.mark.parametrize("start_dim, shape", [(0, (2, 3, 4)), (1, (2, 3, 4)), (2, (2, 3, 4)), (3, (2, 3, 4)),
                                              (-1, (2, 3, 4)), (1, (0, 3)), (1, (5,))])
def test_flatten_infers_the_forward_output(start_dim, shape):
    x = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    layer = Flatten(start_dim).evaluate()
    y, want = layer(x), layer.forward_pass(x)[0]
    assert y.shape == want.shape
    np.testing.assert_array_equal(y, want)


@pytest.mark.parametrize("dims", [None, [0, 2, 1], [2, 0, 1], [1, 1, 0], [0, 1], [0, -1, 1], [0, 1, 3]])
def test_transpose_infers_the_forward_output_or_its_error(dims):
    x = np.arange(24.0).reshape(2, 3, 4)
    layer = Transpose(dims, name="t").evaluate()
    try:
        want = layer.forward_pass(x)[0]
    except ValueError as err:
        with pytest.raises(ValueError, match=r"Transpose\('t'\)"):
            layer(x)
        assert "permutation" in str(err)
        return
    np.testing.assert_array_equal(layer(x), want)
