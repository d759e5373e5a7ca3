"""Indexing layers: forwards vs numpy, gradients by finite differences, runtime index inputs."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Graph, Input, layers as L
from tests.helpers.gradcheck import check_module


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_gather_layer():
    x, idx = _x((2, 5, 3)), np.array([[4, -1], [0, 0]])
    m = L.Gather(dim=1)
    np.testing.assert_array_equal(m(x, idx), np.take(x, [[4, 4], [0, 0]], axis=1))
    check_module(m, [x, idx])
    dx, didx = m.backward(np.ones((2, 2, 2, 3)))
    assert didx is None and dx[:, 0].sum() == 12 and dx[:, 4].sum() == 12
    with pytest.raises(ValueError, match=r"Gather\('g'\): gather: index 5 is out of range for axis 1"):
        L.Gather(dim=1, name="g")(x, np.array([5]))


def test_slice_layer_fixed_and_runtime_bounds():
    x = _x((3, 6))
    m = L.Slice([0, -1], [2, 0], axes=[0, 1], steps=[1, -2])
    np.testing.assert_array_equal(m(x), x[0:2, -1:0:-2])
    check_module(m, [x])
    runtime = L.Slice()
    y = runtime(x, np.array([1]), np.array([3]), np.array([1]))
    np.testing.assert_array_equal(y, x[:, 1:3])
    dx, *rest = runtime.backward(np.ones((3, 2)))
    assert rest == [None, None, None] and dx.sum() == 6
    with pytest.raises(ValueError, match=r"Slice: expected 3 to 5 input\(s\), got 1"):
        runtime(x)
    with pytest.raises(ValueError, match="both starts and ends"):
        L.Slice(starts=[0])


def test_expand_and_tile_layers():
    x = _x((3, 1))
    check_module(L.Expand([2, 3, 4]), [x])
    np.testing.assert_array_equal(L.Expand([2, 1, 4])(x), np.broadcast_to(x, (2, 3, 4)))
    np.testing.assert_array_equal(L.Expand()(x, np.array([3, 2])), np.broadcast_to(x, (3, 2)))
    check_module(L.Tile([2, 3]), [x])
    m = L.Tile()
    np.testing.assert_array_equal(m(x, np.array([1, 2])), np.tile(x, (1, 2)))
    assert m.backward(np.ones((3, 2)))[1] is None


def test_squeeze_unsqueeze_layers():
    x = _x((2, 1, 3, 1))
    assert L.Squeeze()(x).shape == (2, 3)
    assert L.Squeeze(dim=-1)(x).shape == (2, 1, 3)
    assert L.Unsqueeze(dim=[0, 2])(_x((2, 3))).shape == (1, 2, 1, 3)
    check_module(L.Squeeze(dim=[1]), [x])
    check_module(L.Unsqueeze(dim=-1), [x])
    with pytest.raises(ValueError, match=r"Squeeze: squeeze: axis 2 of input \(2, 1, 3, 1\) has size 3"):
        L.Squeeze(dim=2)(x)


def test_depth_space_layers_and_pixel_shuffle():
    x = _x((2, 8, 3, 2))
    for m in (L.DepthToSpace(2), L.DepthToSpace(2, mode="CRD"), L.PixelShuffle(2)):
        assert m(x).shape == (2, 2, 6, 4)
        check_module(m, [x])
    np.testing.assert_array_equal(L.PixelShuffle(2)(x), L.DepthToSpace(2, "CRD")(x))
    assert L.PixelShuffle(2).get_config() == {"upscale_factor": 2}
    y = _x((1, 2, 4, 6))
    np.testing.assert_array_equal(L.DepthToSpace(2)(L.SpaceToDepth(2)(y)), y)
    check_module(L.SpaceToDepth(2), [y])
    np.testing.assert_array_equal(L.PixelShuffle(2)(L.PixelUnshuffle(2)(y)), y)
    assert L.PixelUnshuffle(2).get_config() == {"downscale_factor": 2}
    with pytest.raises(ValueError, match="mode must be 'DCR' or 'CRD'"):
        L.DepthToSpace(2, mode="dcr")


def test_runtime_index_tensors_through_a_graph():
    """Int tensors flow through Slice/Gather/Unsqueeze/Squeeze into Tile; gradients reach only x."""
    x = Input(name="x")
    shape = Input(name="shape")
    repeats = L.Gather(0)(shape, L.Slice([0], [2])(shape))  # shape[shape[0:2]]
    repeats = L.Squeeze([0])(L.Unsqueeze(0)(repeats))
    g = Graph([x, shape], L.Tile()(L.ReduceMean(dim=1, keepdim=True)(x), repeats))
    v = _x((2, 3))
    y = g(v, np.array([2, 0, 1]))
    np.testing.assert_allclose(y, np.tile(v.mean(axis=1, keepdims=True), (1, 2)))
    dx, dshape = g.backward(np.ones((2, 2)))
    np.testing.assert_allclose(dx, np.full((2, 3), 2 / 3))
    np.testing.assert_array_equal(dshape, np.zeros(3))


def test_expand_infers_the_forward_output_per_shape_and_target():
    x = np.arange(3.0).reshape(3, 1)
    fixed, runtime = L.Expand([2, 3, 4]).evaluate(), L.Expand().evaluate()
    for _ in range(2):  # the second call reuses the planned shape
        np.testing.assert_array_equal(fixed(x), np.broadcast_to(x, (2, 3, 4)))
        for target in ([3, 5], [2, 3, 1], [1]):
            y = runtime(x, np.array(target, np.int64))
            np.testing.assert_array_equal(y, np.broadcast_to(x, np.broadcast_shapes(x.shape, target)))
            y[...] = -1  # a new array, not a view of x
    assert x.min() == 0
    with pytest.raises(ValueError, match="Expand.*must be integers"):
        runtime(x, np.array([3.0, 5.0]))
    with pytest.raises(ValueError, match="Expand.*does not broadcast"):
        runtime(x, np.array([2, 2], np.int64))
    with pytest.raises(ValueError, match="Expand.*expected 2 input"):
        runtime(x)
    with pytest.raises(ValueError, match="Expand.*expected 1 input"):
        fixed.infer()
