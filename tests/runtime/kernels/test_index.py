"""Indexing kernels: finite-difference gradients (float64), forwards vs the ONNX reference."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.kernels import index as K
from tests.helpers.gradcheck import check_kernel
from tests.helpers.onnx_ref import run_node

I64 = np.int64
BIG = np.iinfo(np.int64).max


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


# ------------------------------------------------------------------ gather
GATHER = [((5, 3), [0, 2, 2, -1], 0), ((2, 5, 3), [[1, -2], [4, 1]], 1), ((4, 3), 2, -1), ((3, 4, 2), [[0]], 2),
          ((6,), [5, 0, 5, 5], 0)]


@pytest.mark.parametrize("shape, indices, axis", GATHER)
def test_gather_backward_matches_finite_differences(shape, indices, axis):
    check_kernel(K.gather_forward, K.gather_backward, [_x(shape), np.array(indices, I64)], {"axis": axis})


@pytest.mark.parametrize("shape, indices, axis", GATHER)
def test_gather_forward_matches_onnx(shape, indices, axis):
    x, idx = _x(shape).astype(np.float32), np.array(indices, I64)
    y, cache = K.gather_forward(x, idx, axis)
    np.testing.assert_array_equal(y, run_node("Gather", [x, idx], axis=axis)[0])
    dx, didx = K.gather_backward(np.ones_like(y), cache)
    assert didx is None and dx.dtype == np.float32 and dx.sum() == y.size


def test_gather_rejects_bad_indices():
    with pytest.raises(ValueError, match="gather: index 3 is out of range for axis 0 of size 3"):
        K.gather_forward(np.ones((3, 2)), np.array([0, 3]))
    with pytest.raises(ValueError, match="must be integers"):
        K.gather_forward(np.ones((3, 2)), np.array([0.0]))


# ------------------------------------------------------------------- slice
SLICES = [  # shape, starts, ends, axes, steps
    ((5, 6), [1], [4], None, None),
    ((5, 6), [0, -4], [BIG, -1], [0, 1], [2, 1]),
    ((5, 6), [-1], [-BIG], [1], [-1]),
    ((5, 6, 3), [4, 10], [0, -10], [0, -2], [-2, -3]),
    ((7,), [-10], [100], None, [3]),
    ((4, 5), [10], [-10], [1], [-1]),
    ((4, 5), [3], [3], [0], None),
]


@pytest.mark.parametrize("shape, starts, ends, axes, steps", SLICES)
def test_slice_backward_matches_finite_differences(shape, starts, ends, axes, steps):
    check_kernel(K.slice_forward, K.slice_backward, [_x(shape)],
                 {"starts": starts, "ends": ends, "axes": axes, "steps": steps})


@pytest.mark.parametrize("shape, starts, ends, axes, steps", SLICES)
def test_slice_forward_matches_onnx(shape, starts, ends, axes, steps):
    x = _x(shape).astype(np.float32)
    y, _ = K.slice_forward(x, starts, ends, axes, steps)
    inputs = [x, np.array(starts, I64), np.array(ends, I64),
              None if axes is None and steps is None else np.array(axes or range(len(starts)), I64),
              None if steps is None else np.array(steps, I64)]
    np.testing.assert_array_equal(y, run_node("Slice", inputs)[0])


def test_slice_errors():
    with pytest.raises(ValueError, match="step 0"):
        K.slice_forward(np.ones(3), [0], [2], [0], [0])
    with pytest.raises(ValueError, match="axis 0 is given twice"):
        K.slice_forward(np.ones((3, 3)), [0, 0], [2, 2], [0, -2])
    with pytest.raises(ValueError, match="differ in length"):
        K.slice_forward(np.ones(3), [0], [2, 3])


# ----------------------------------------------------------- expand, tile
EXPAND = [((3, 1), [2, 3, 4]), ((1, 4), [3, 1]), ((2, 3), [3]), ((), [2, 2]), ((4,), [1])]


@pytest.mark.parametrize("shape, target", EXPAND)
def test_expand(shape, target):
    check_kernel(K.expand_forward, K.expand_backward, [_x(shape)], {"shape": target})
    x = _x(shape).astype(np.float32)
    y, _ = K.expand_forward(x, target)
    np.testing.assert_array_equal(y, run_node("Expand", [x, np.array(target, I64)])[0])
    assert y.flags.writeable


TILE = [((2, 3), [2, 1]), ((2, 1, 3), [1, 3, 2]), ((4,), [3]), ((2, 2), [1, 1])]


@pytest.mark.parametrize("shape, repeats", TILE)
def test_tile(shape, repeats):
    check_kernel(K.tile_forward, K.tile_backward, [_x(shape)], {"repeats": repeats})
    x = _x(shape).astype(np.float32)
    y, _ = K.tile_forward(x, repeats)
    np.testing.assert_array_equal(y, run_node("Tile", [x, np.array(repeats, I64)])[0])


def test_expand_and_tile_errors():
    with pytest.raises(ValueError, match=r"expand: input \(2, 3\) does not broadcast to \[4\]"):
        K.expand_forward(np.ones((2, 3)), [4])
    with pytest.raises(ValueError, match=r"tile: repeats \[2\] must be 2 non-negative counts"):
        K.tile_forward(np.ones((2, 3)), [2])


# ------------------------------------------------------ squeeze, unsqueeze
@pytest.mark.parametrize("shape, axes", [((1, 3, 1, 2), None), ((1, 3, 1, 2), [0, -2]), ((2, 1), [1])])
def test_squeeze(shape, axes):
    check_kernel(K.squeeze_forward, K.squeeze_backward, [_x(shape)], {"axes": axes})
    x = _x(shape).astype(np.float32)
    y, _ = K.squeeze_forward(x, axes)
    np.testing.assert_array_equal(y, run_node("Squeeze", [x, None if axes is None else np.array(axes, I64)])[0])


@pytest.mark.parametrize("shape, axes", [((3, 2), [0]), ((3, 2), [-1, 1]), ((), [0, 1]), ((2, 3), [3, 0])])
def test_unsqueeze(shape, axes):
    check_kernel(K.unsqueeze_forward, K.unsqueeze_backward, [_x(shape)], {"axes": axes})
    x = np.asarray(_x(shape), np.float32)
    y, _ = K.unsqueeze_forward(x, axes)
    np.testing.assert_array_equal(y, run_node("Unsqueeze", [x, np.array(axes, I64)])[0])


def test_squeeze_errors():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 of input \(1, 3\) has size 3, not 1"):
        K.squeeze_forward(np.ones((1, 3)), [1])
    with pytest.raises(ValueError, match="name an output axis twice"):
        K.unsqueeze_forward(np.ones(3), [0, -3])


# -------------------------------------------- depth-to-space, space-to-depth
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("shape, block", [((2, 8, 3, 2), 2), ((1, 9, 2, 3), 3), ((1, 3, 2, 2), 1)])
def test_depth_to_space(shape, block, mode):
    check_kernel(K.depth_to_space_forward, K.depth_to_space_backward, [_x(shape)],
                 {"blocksize": block, "mode": mode})
    x = _x(shape).astype(np.float32)
    y, _ = K.depth_to_space_forward(x, block, mode)
    np.testing.assert_array_equal(y, run_node("DepthToSpace", [x], blocksize=block, mode=mode)[0])


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("shape, block", [((2, 2, 4, 6), 2), ((1, 1, 3, 6), 3)])
def test_space_to_depth(shape, block, mode):
    check_kernel(K.space_to_depth_forward, K.space_to_depth_backward, [_x(shape)],
                 {"blocksize": block, "mode": mode})
    x = _x(shape).astype(np.float32)
    y, _ = K.space_to_depth_forward(x, block, mode)
    np.testing.assert_array_equal(y, run_node("SpaceToDepth", [x], opset=28, blocksize=block, mode=mode)[0])
    back, _ = K.depth_to_space_forward(y, block, mode)
    np.testing.assert_array_equal(back, x)


def test_crd_is_pixel_shuffle():
    """CRD = torch's PixelShuffle: out[n, c, h*b + i, w*b + j] = x[n, c*b*b + i*b + j, h, w] (plain loop)."""
    b, x = 2, _x((2, 12, 3, 4))
    expected = np.zeros((2, 3, 6, 8))
    for c in range(3):
        for i in range(b):
            for j in range(b):
                expected[:, c, i::b, j::b] = x[:, c * b * b + i * b + j]
    np.testing.assert_array_equal(K.depth_to_space_forward(x, b, "CRD")[0], expected)


def test_rearrange_errors():
    with pytest.raises(ValueError, match="6 channels are not divisible by blocksize"):
        K.depth_to_space_forward(np.ones((1, 6, 2, 2)), 2)
    with pytest.raises(ValueError, match="not divisible by blocksize 2"):
        K.space_to_depth_forward(np.ones((1, 1, 3, 4)), 2)
    with pytest.raises(ValueError, match="mode must be 'DCR' or 'CRD'"):
        K.depth_to_space_forward(np.ones((1, 4, 2, 2)), 2, "XYZ")
