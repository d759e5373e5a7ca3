"""Round-trip cases for the layers the ONNX importer needs (see test_every_layer_round_trip.py)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from bigdl_runtime.nn import Module, layers as L


def _positive(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (0.5 + np.abs(rng.standard_normal(shape))).astype(np.float32)


def _booleans(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.random(shape) > 0.5


def _small_ints(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 3, size=shape).astype(np.float32)


# layer class name -> (factory, input shapes[, input maker])
CASES: dict[str, tuple[Callable[[], Module], list[tuple[int, ...]]] | tuple] = {
    "Sqrt": (lambda: L.Sqrt(), [(3, 4)], _positive),
    "Exp": (lambda: L.Exp(), [(3, 4)]),
    "Log": (lambda: L.Log(), [(3, 4)], _positive),
    "Neg": (lambda: L.Neg(), [(3, 4)]),
    "Abs": (lambda: L.Abs(), [(3, 4)]),
    "Reciprocal": (lambda: L.Reciprocal(), [(3, 4)], _positive),
    "Erf": (lambda: L.Erf(), [(3, 4)]),
    "Pow": (lambda: L.Pow(), [(3, 4), (4,)], _positive),
    "Clip": (lambda: L.Clip(-0.5, 0.25), [(3, 4)]),
    "ReLU6": (lambda: L.ReLU6(), [(3, 4)]),
    "Maximum": (lambda: L.Maximum(), [(3, 4), (4,), (3, 1)]),
    "Minimum": (lambda: L.Minimum(), [(3, 4), (3, 4)]),
    "Average": (lambda: L.Average(), [(3, 4), (1, 4)]),
    "Where": (lambda: L.Where(), [(3, 4), (3, 4), (4,)]),
    "Equal": (lambda: L.Equal(), [(3, 4), (4,)], _small_ints),
    "Less": (lambda: L.Less(), [(3, 4), (4,)], _small_ints),
    "Greater": (lambda: L.Greater(), [(3, 4), (4,)], _small_ints),
    "LessOrEqual": (lambda: L.LessOrEqual(), [(3, 4), (4,)], _small_ints),
    "GreaterOrEqual": (lambda: L.GreaterOrEqual(), [(3, 4), (4,)], _small_ints),
    "LogicalNot": (lambda: L.LogicalNot(), [(3, 4)], _booleans),
    "LogicalAnd": (lambda: L.LogicalAnd(), [(3, 4), (4,)], _booleans),
    "LogicalOr": (lambda: L.LogicalOr(), [(3, 4), (4,)], _booleans),
    "LogicalXor": (lambda: L.LogicalXor(), [(3, 4), (4,)], _booleans),
}
CASES.update({
    "ReduceSum": (lambda: L.ReduceSum(dim=[1, -1], keepdim=True), [(2, 3, 4)]),
    "ReduceMean": (lambda: L.ReduceMean(dim=1), [(2, 3, 4)]),
    "ReduceMax": (lambda: L.ReduceMax(), [(2, 3, 4)]),
    "ReduceMin": (lambda: L.ReduceMin(dim=0, keepdim=True), [(2, 3, 4)]),
    "ReduceProd": (lambda: L.ReduceProd(dim=[2]), [(2, 3, 4)]),
    "ArgMax": (lambda: L.ArgMax(dim=1, keepdim=True), [(2, 3, 4)]),
    "ArgMin": (lambda: L.ArgMin(dim=-1, select_last_index=True), [(2, 3, 4)], _small_ints),
    "TopK": (lambda: L.TopK(2, dim=1, largest=False), [(2, 3, 4)]),
})


def _indices(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A float tensor for the first input and small int64 indices for the second (by rank)."""
    if len(shape) == 1:
        return rng.integers(-2, 3, size=shape).astype(np.int64)
    return rng.standard_normal(shape).astype(np.float32)


CASES.update({
    "Gather": (lambda: L.Gather(dim=1), [(2, 3, 4), (5,)], _indices),
    "Slice": (lambda: L.Slice([0, -1], [2, -2 ** 63], axes=[1, -1], steps=[1, -2]), [(2, 3, 4)]),
    "Expand": (lambda: L.Expand([2, 3, 4]), [(3, 1)]),
    "Tile": (lambda: L.Tile([1, 2, 3]), [(2, 3, 1)]),
    "Squeeze": (lambda: L.Squeeze(dim=[1]), [(2, 1, 4)]),
    "Unsqueeze": (lambda: L.Unsqueeze(dim=[0, -1]), [(2, 3)]),
    "DepthToSpace": (lambda: L.DepthToSpace(2, mode="CRD"), [(1, 8, 2, 3)]),
    "PixelShuffle": (lambda: L.PixelShuffle(2), [(1, 8, 2, 3)]),
    "SpaceToDepth": (lambda: L.SpaceToDepth(2), [(1, 2, 4, 6)]),
    "PixelUnshuffle": (lambda: L.PixelUnshuffle(2), [(1, 2, 4, 6)]),
})
CASES.update({
    "MatMul": (lambda: L.MatMul(), [(2, 3, 4), (4, 5)]),
    "Einsum": (lambda: L.Einsum("b...ij,jk->b...ik"), [(2, 3, 4), (4, 5)]),
})
CASES.update({
    "InstanceNorm": (lambda: L.InstanceNorm(3, eps=1e-3, affine=True), [(2, 3, 5)]),
    "InstanceNorm1d": (lambda: L.InstanceNorm1d(3), [(2, 3, 5)]),
    "InstanceNorm2d": (lambda: L.InstanceNorm2d(3, affine=True), [(2, 3, 4, 5)]),
    "InstanceNorm3d": (lambda: L.InstanceNorm3d(2, affine=True), [(1, 2, 3, 2, 2)]),
})


def _shape_vector(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(1, 4, size=shape).astype(np.int64)


def _scalar(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return np.array(rng.integers(1, 4), np.int64)


CASES.update({
    "Cast": (lambda: L.Cast("int32"), [(3, 4)]),
    "ConstantOfShape": (lambda: L.ConstantOfShape(2.5, "float64"), [(3,)], _shape_vector),
    "Range": (lambda: L.Range(), [(), (), ()], _scalar),
})
